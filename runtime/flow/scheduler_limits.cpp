// The scheduler's limits on starting runs: the circuit breaker, budgets per
// window (runs and cost) and the rate limit's tokens (GCRA), with the memos
// that carry their state across restarts.
#include "runtime/flow/scheduler.hpp"

#include "runtime/flow/scheduler_detail.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace rouse::flow {

using detail::format_ns;
using detail::with_key;

namespace {

std::string format_cost(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

} // namespace

// --- the circuit breaker -----------------------------------------------------

void scheduler::count_outcome(const std::string& run_id, bool ok, int64_t now,
                              std::vector<decision>& out) {
  const bool probe = circuit_ == circuit_state::half_open && run_id == probe_;
  if (ok) {
    failures_ = 0;
    if (probe) {
      circuit_ = circuit_state::closed;
      probe_.clear();
      out.push_back({decision::circuit_closed,
                     run_id,
                     "probe run " + run_id + " succeeded",
                     {}});
    }
    return;
  }
  ++failures_;
  if (probe
      || (circuit_ == circuit_state::closed
          && failures_ >= cfg_.circuit_failures)) {
    circuit_ = circuit_state::open;
    open_until_ns_ = now + cfg_.circuit_cool_ns;
    probe_.clear();
    out.push_back({decision::circuit_open,
                   {},
                   probe
                       ? "probe run " + run_id + " failed"
                       : std::to_string(failures_)
                             + " consecutive failures, the last run " + run_id,
                   {}});
  }
}

const char* scheduler::circuit() const noexcept {
  switch (circuit_) {
  case circuit_state::closed: return "closed";
  case circuit_state::open: return "open";
  case circuit_state::half_open: return "half_open";
  }
  return "closed";
}

std::string scheduler::circuit_memo() const {
  if (circuit_ == circuit_state::closed)
    return "closed";
  // Half open stores as open with a time that passed: it probes again.
  return "open " + std::to_string(open_until_ns_);
}

void scheduler::load_circuit(std::string_view memo) {
  constexpr std::string_view open = "open ";
  if (cfg_.circuit_failures == 0 || !memo.starts_with(open))
    return;
  memo.remove_prefix(open.size());
  int64_t until = 0;
  auto [end, ec] =
      std::from_chars(memo.data(), memo.data() + memo.size(), until);
  if (ec != std::errc{} || end != memo.data() + memo.size())
    return;
  circuit_ = circuit_state::open;
  open_until_ns_ = until;
  probe_.clear();
}

// --- budgets -----------------------------------------------------------------

std::string scheduler::budget_key(const item& x) const {
  return cfg_.budget_keyed ? x.keys.budget_key : std::string{};
}

int64_t scheduler::budget_at(const std::string& key, int64_t now) const {
  auto i = spent_.find(key);
  if (i == spent_.end())
    return now;
  const auto& s = i->second;
  if (s.window_ns != budget_window(now, cfg_.budget_per_ns))
    return now; // a new window
  const bool spent = (cfg_.budget_runs > 0 && s.runs >= cfg_.budget_runs)
                     || (cfg_.budget_cost > 0 && s.cost >= cfg_.budget_cost);
  return spent ? s.window_ns + cfg_.budget_per_ns : now;
}

void scheduler::spend(const std::string& key, uint64_t runs, double cost,
                      int64_t now, std::vector<decision>& out) {
  const auto window = budget_window(now, cfg_.budget_per_ns);
  auto& s = spent_[key];
  if (s.window_ns != window)
    s = spending{window, 0, 0, false};
  s.runs += runs;
  s.cost += cost;
  if (s.told || budget_at(key, now) <= now)
    return;
  s.told = true;
  std::string what;
  if (cfg_.budget_runs > 0 && s.runs >= cfg_.budget_runs)
    what = std::to_string(s.runs) + " of " + std::to_string(cfg_.budget_runs)
           + " runs";
  else
    what =
        "cost " + format_cost(s.cost) + " of " + format_cost(cfg_.budget_cost);
  out.push_back({decision::budget_exceeded,
                 key,
                 with_key("budget spent: " + what + " in the "
                              + format_ns(cfg_.budget_per_ns) + " window; runs "
                              + "wait until the next window or `rouse "
                              + "triggers resume`",
                          key),
                 {}});
}

void scheduler::load_budget(const std::vector<budget_usage>& spent,
                            int64_t now) {
  if (!cfg_.budget())
    return;
  const auto window = budget_window(now, cfg_.budget_per_ns);
  for (const auto& u : spent)
    if (u.window_ns == window) {
      auto& s = spent_[u.key];
      s = spending{window, u.runs, u.cost, false};
      // Spent before the restart: the event went out then.
      s.told = budget_at(u.key, now) > now;
    }
}

std::vector<budget_usage>
scheduler::resume(const std::optional<std::string>& key, int64_t now,
                  std::vector<decision>& out) {
  std::vector<budget_usage> reset;
  if (!cfg_.budget())
    return reset;
  const auto window = budget_window(now, cfg_.budget_per_ns);
  auto clear = [&](const std::string& k) {
    spent_[k] = spending{window, 0, 0, false};
    reset.push_back(budget_usage{k, window, 0, 0});
  };
  if (key) {
    clear(*key);
  } else {
    for (auto& [k, s] : spent_)
      if (s.window_ns == window)
        reset.push_back(budget_usage{k, window, 0, 0});
    for (auto& u : reset)
      spent_[u.key] = spending{window, 0, 0, false};
  }
  // Partitions held by the budget start again; those held by the rate find
  // out again when they come up.
  for (auto& [at, part] : blocked_)
    if (auto p = parts_.find(part); p != parts_.end())
      p->second.blocked = false;
  std::vector<std::string> parts;
  for (auto& [at, part] : blocked_)
    parts.push_back(part);
  blocked_.clear();
  for (const auto& part : parts)
    relist(part);
  settle(now, out);
  return reset;
}

std::vector<budget_usage> scheduler::budget_spent(int64_t now) const {
  std::vector<budget_usage> result;
  const auto window = budget_window(now, cfg_.budget_per_ns);
  for (const auto& [k, s] : spent_)
    if (s.window_ns == window)
      result.push_back(budget_usage{k, window, s.runs, s.cost});
  std::sort(result.begin(), result.end(),
            [](const budget_usage& a, const budget_usage& b) {
              return a.key < b.key;
            });
  return result;
}

// --- rate tokens -------------------------------------------------------------

// GCRA: one token every T = per/limit, bursts of up to `limit`: a run may
// start when the key's theoretical arrival time is at most per - T ahead.
int64_t scheduler::token_at(const std::string& key, int64_t now) const {
  auto i = tat_.find(key);
  if (i == tat_.end())
    return now;
  const int64_t t = cfg_.rate_per_ns / std::max<uint32_t>(cfg_.rate_limit, 1);
  const int64_t tau = cfg_.rate_per_ns - t;
  return std::max(now, i->second - tau);
}

std::optional<int64_t> scheduler::rate_memo(const std::string& key) const {
  if (cfg_.rate_limit == 0)
    return std::nullopt;
  auto i = tat_.find(key);
  if (i == tat_.end())
    return std::nullopt;
  return i->second;
}

void scheduler::load_rate(
    const std::vector<std::pair<std::string, int64_t>>& tats, int64_t now) {
  if (cfg_.rate_limit == 0)
    return;
  for (const auto& [key, tat] : tats)
    if (tat > now)
      tat_[key] = tat;
}

void scheduler::take_token(const std::string& key, int64_t now) {
  const int64_t t = cfg_.rate_per_ns / std::max<uint32_t>(cfg_.rate_limit, 1);
  auto& tat = tat_.try_emplace(key, now).first->second;
  tat = std::max(tat, now) + t;
}
} // namespace rouse::flow
