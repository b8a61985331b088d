// The scheduler's stages. Every held run lives in held_ and in exactly one
// stage structure; every launched run lives in running_ until released.
#include "runtime/flow/scheduler.hpp"

#include "runtime/config/config.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>

namespace rouse::flow {

namespace {

int64_t ns(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

std::string with_key(std::string_view what, const std::string& key) {
  std::string s{what};
  if (!key.empty())
    s += " (key \"" + key + "\")";
  return s;
}

std::string format_ns(int64_t d) {
  return config::format_duration(std::chrono::milliseconds{d / 1'000'000});
}

std::string format_cost(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

} // namespace

settings settings_from(uint32_t concurrency, const config::flow_policy& p) {
  settings s;
  s.concurrency = concurrency;
  s.concurrency_keyed = concurrency > 0 && !p.concurrency_key.empty();
  s.rate_limit = p.rate.limit;
  s.rate_per_ns = ns(p.rate.per);
  s.rate_drop = p.rate.mode == config::flow_policy::rate_policy::drop;
  s.debounce_ns = ns(p.debounce.period);
  s.debounce_max_wait_ns = ns(p.debounce.max_wait);
  s.batch_max = p.batch.max_size;
  s.batch_wait_ns = ns(p.batch.max_wait);
  s.priority = !p.priority.value.empty();
  s.aging_ns = ns(p.priority.aging);
  s.singleton = p.singleton.enabled;
  s.singleton_cancel =
      p.singleton.mode == config::flow_policy::singleton_policy::cancel;
  s.queue_max = p.queue.max;
  s.circuit_failures = p.circuit.failures;
  s.circuit_cool_ns = ns(p.circuit.cool_off);
  s.circuit_dlq = p.circuit.mode == config::flow_policy::circuit_policy::dlq;
  if (p.budget.on()) {
    s.budget_runs = p.budget.runs;
    s.budget_cost = p.budget.cost;
    s.budget_per_ns = ns(p.budget.per);
    s.budget_keyed = !p.budget.key.empty();
  }
  switch (p.queue.on_full) {
  case config::flow_policy::queue_policy::reject:
    s.on_full = settings::reject;
    break;
  case config::flow_policy::queue_policy::drop_oldest:
    s.on_full = settings::drop_oldest;
    break;
  case config::flow_policy::queue_policy::latest_wins:
    s.on_full = settings::latest_wins;
    break;
  }
  return s;
}

scheduler::scheduler(settings s) : cfg_(s) {}

// --- admission ---------------------------------------------------------------

void scheduler::admit(item x, int64_t now, std::vector<decision>& out) {
  if (held_.count(x.run_id) > 0 || running_.count(x.run_id) > 0)
    return;
  if (x.arrived_ns == 0)
    x.arrived_ns = now;
  held_run h;
  h.x = std::move(x);
  if (!h.x.fresh) {
    // Decided before: only the queue and the slots apply. It counts as its
    // key's singleton if none is active.
    if (cfg_.singleton) {
      auto& s = singles_[h.x.keys.singleton_key];
      if (s.active.empty())
        s.active = h.x.run_id;
    }
    to_ready(std::move(h), now, out);
    settle(now, out);
    return;
  }
  if (cfg_.singleton) {
    const auto& key = h.x.keys.singleton_key;
    auto& s = singles_[key];
    if (s.active.empty()) {
      s.active = h.x.run_id;
    } else if (!cfg_.singleton_cancel) {
      skip(h.x.run_id,
           with_key("singleton: run " + s.active + " is active", key), out);
      return;
    } else if (running_.count(s.active) == 0) {
      // The active run has not started: the new one replaces it.
      auto old = s.active;
      remove(old);
      skip(old, with_key("singleton: replaced by run " + h.x.run_id, key), out);
      singles_[key].active = h.x.run_id;
    } else {
      // The active run is executing: the new one goes next, replacing any
      // run that was next.
      if (!s.next.empty()) {
        auto old = s.next;
        remove(old);
        skip(old, with_key("singleton: replaced by run " + h.x.run_id, key),
             out);
      }
      auto& again = singles_[key];
      again.next = h.x.run_id;
      if (!again.stopping) {
        again.stopping = true;
        out.push_back(
            {decision::stop,
             again.active,
             with_key("singleton: replaced by run " + h.x.run_id, key),
             {}});
      }
      h.at = stage::next;
      auto id = h.x.run_id;
      held_.emplace(std::move(id), std::move(h));
      return;
    }
  }
  after_singleton(std::move(h), now, out);
  settle(now, out);
}

void scheduler::after_singleton(held_run h, int64_t now,
                                std::vector<decision>& out) {
  if (cfg_.debounce_ns > 0)
    to_debounce(std::move(h), out);
  else if (cfg_.batch_max > 0)
    to_batch(std::move(h), out);
  else
    to_ready(std::move(h), now, out);
}

void scheduler::to_debounce(held_run h, std::vector<decision>& out) {
  const auto key = h.x.keys.debounce_key;
  const auto id = h.x.run_id;
  const auto arrived = h.x.arrived_ns;
  auto i = bursts_.find(key);
  if (i == bursts_.end()) {
    i = bursts_.emplace(key, burst{id, arrived, 0}).first;
  } else {
    burst_due_.erase({i->second.due_ns, key});
    auto old = std::move(i->second.candidate);
    forget(old);
    skip(old, with_key("debounced: superseded by run " + id, key), out);
    i = bursts_.find(key);
    i->second.candidate = id;
  }
  auto due = arrived + cfg_.debounce_ns;
  if (cfg_.debounce_max_wait_ns > 0)
    due = std::min(due, i->second.first_ns + cfg_.debounce_max_wait_ns);
  i->second.due_ns = due;
  burst_due_.emplace(due, key);
  h.at = stage::debounce;
  held_.emplace(id, std::move(h));
}

void scheduler::to_batch(held_run h, std::vector<decision>& out) {
  const auto key = h.x.keys.batch_key;
  const auto id = h.x.run_id;
  auto i = piles_.find(key);
  if (i == piles_.end()) {
    auto due = h.x.arrived_ns + cfg_.batch_wait_ns;
    i = piles_.emplace(key, pile{{}, due}).first;
    pile_due_.emplace(due, key);
  }
  i->second.ids.push_back(id);
  h.at = stage::batch;
  held_.emplace(id, std::move(h));
  if (i->second.ids.size() >= cfg_.batch_max)
    flush_batch(key, out);
}

void scheduler::flush_batch(const std::string& key,
                            std::vector<decision>& out) {
  auto i = piles_.find(key);
  if (i == piles_.end())
    return;
  auto ids = std::move(i->second.ids);
  pile_due_.erase({i->second.due_ns, key});
  piles_.erase(i);
  if (ids.empty())
    return;
  decision d;
  d.kind = decision::batch;
  d.run_id = ids.front();
  d.members.assign(ids.begin() + 1, ids.end());
  // The batch comes back through admit() once stored; until then it holds
  // nothing here. Its singleton stays active.
  for (const auto& id : ids) {
    if (id == d.run_id)
      held_.erase(id);
    else
      forget(id);
  }
  out.push_back(std::move(d));
}

void scheduler::to_ready(held_run h, int64_t now, std::vector<decision>& out) {
  const auto id = h.x.run_id;
  if (circuit_ != circuit_state::closed && cfg_.circuit_dlq && h.x.fresh) {
    unmark_single(h.x);
    out.push_back({decision::reject,
                   id,
                   "circuit open after " + std::to_string(cfg_.circuit_failures)
                       + " consecutive failures",
                   {}});
    return;
  }
  if (cfg_.rate_limit > 0 && cfg_.rate_drop) {
    const auto& key = h.x.keys.rate_key;
    if (token_at(key, now) > now) {
      unmark_single(h.x);
      skip(id,
           with_key("rate limit: over " + std::to_string(cfg_.rate_limit)
                        + " per " + format_ns(cfg_.rate_per_ns),
                    key),
           out);
      return;
    }
    take_token(key, now);
  }
  if (cfg_.queue_max > 0 && ready_by_seq_.size() >= cfg_.queue_max) {
    const auto full = "queue full (max " + std::to_string(cfg_.queue_max) + ")";
    if (cfg_.on_full == settings::reject) {
      // Not held yet: only its singleton needs forgetting.
      unmark_single(h.x);
      out.push_back({decision::reject, id, full, {}});
      return;
    }
    std::string victim;
    if (cfg_.on_full == settings::drop_oldest) {
      victim = ready_by_seq_.begin()->second;
    } else {
      // latest_wins: the newest waiting run of the same partition, else the
      // newest waiting run.
      auto p = parts_.find(part_of(h.x));
      uint64_t newest = 0;
      if (p != parts_.end())
        for (const auto& r : p->second.waiting)
          newest = std::max(newest, r.second);
      victim = newest > 0 ? ready_by_seq_.at(newest)
                          : ready_by_seq_.rbegin()->second;
    }
    remove(victim);
    skip(victim,
         full + ": "
             + (cfg_.on_full == settings::drop_oldest ? "dropped for run "
                                                      : "replaced by run ")
             + id,
         out);
  }
  h.at = stage::ready;
  h.part = part_of(h.x);
  h.score = score_of(h.x);
  auto& p = parts_[h.part];
  p.waiting.emplace(h.score, h.x.seq);
  ready_by_seq_[h.x.seq] = id;
  auto part = h.part;
  held_.emplace(id, std::move(h));
  relist(part);
}

// --- the ready queue
// -----------------------------------------------------------

// Runs of one partition start in order; one whose rate key has no token, or
// whose budget key is spent, holds back the partition. So without a
// concurrency key the partition is the rate key and budget key together.
std::string scheduler::part_of(const item& x) const {
  if (cfg_.concurrency_keyed)
    return x.keys.concurrency_key;
  const bool rate = cfg_.rate_limit > 0 && !cfg_.rate_drop;
  const bool budget = cfg_.budget() && cfg_.budget_keyed;
  if (rate && budget)
    return x.keys.rate_key + '\x1f' + x.keys.budget_key;
  if (rate)
    return x.keys.rate_key;
  if (budget)
    return x.keys.budget_key;
  return {};
}

int64_t scheduler::score_of(const item& x) const {
  if (!cfg_.priority)
    return 0;
  constexpr int64_t bound = 1'000'000;
  auto p = std::clamp<int64_t>(x.keys.priority, -bound, bound);
  if (cfg_.aging_ns <= 0)
    return -p;
  // Waiting `aging` raises priority by 1: at any time t, run a goes before b
  // iff p_a + (t - arrived_a)/aging > p_b + (t - arrived_b)/aging, i.e. iff
  // arrived_a - p_a*aging < arrived_b - p_b*aging: t cancels, so the order
  // is fixed at admission. Milliseconds keep the product in range.
  auto aging_ms =
      std::clamp<int64_t>(cfg_.aging_ns / 1'000'000, 1, 1'000'000'000);
  return x.arrived_ns / 1'000'000 - p * aging_ms;
}

uint32_t scheduler::part_limit() const {
  return cfg_.concurrency_keyed ? cfg_.concurrency : 0;
}

void scheduler::relist(const std::string& part) {
  auto i = parts_.find(part);
  if (i == parts_.end())
    return;
  auto& p = i->second;
  if (p.listed) {
    eligible_.erase({p.listed->first, p.listed->second, part});
    p.listed.reset();
  }
  auto limit = part_limit();
  if (!p.waiting.empty() && !p.blocked && (limit == 0 || p.running < limit)) {
    p.listed = *p.waiting.begin();
    eligible_.emplace(p.listed->first, p.listed->second, part);
  } else if (p.waiting.empty() && p.running == 0 && !p.blocked) {
    parts_.erase(i);
  }
}

void scheduler::pump(int64_t now, std::vector<decision>& out) {
  while (!eligible_.empty()) {
    // Open: nothing starts. Half open: only the probe, one run.
    if (circuit_ == circuit_state::open
        || (circuit_ == circuit_state::half_open && !probe_.empty()))
      return;
    if (!cfg_.concurrency_keyed && cfg_.concurrency > 0
        && running_.size() >= cfg_.concurrency)
      return;
    auto [score, seq, part] = *eligible_.begin();
    eligible_.erase(eligible_.begin());
    auto& p = parts_.at(part);
    p.listed.reset();
    const auto id = ready_by_seq_.at(seq);
    auto h = held_.find(id);
    if (cfg_.budget()) {
      // Checked before the rate so a held run takes no token.
      auto at = budget_at(budget_key(h->second.x), now);
      if (at > now) {
        p.blocked = true;
        blocked_.emplace(at, part);
        continue;
      }
    }
    if (cfg_.rate_limit > 0 && !cfg_.rate_drop) {
      const auto& key = h->second.x.keys.rate_key;
      auto at = token_at(key, now);
      if (at > now) {
        p.blocked = true;
        blocked_.emplace(at, part);
        continue;
      }
      take_token(key, now);
    }
    p.waiting.erase(p.waiting.begin());
    ready_by_seq_.erase(seq);
    ++p.running;
    auto& x = h->second.x;
    auto& s = running_.emplace(id, slot{part, x.keys.singleton_key, {}})
                  .first->second;
    const bool counts = x.counts;
    if (cfg_.budget())
      s.budget = budget_key(x);
    held_.erase(h);
    out.push_back({decision::launch, id, {}, {}});
    if (cfg_.budget() && counts)
      spend(s.budget, 1, 0, now, out);
    if (circuit_ == circuit_state::half_open)
      probe_ = id;
    relist(part);
  }
}

void scheduler::settle(int64_t now, std::vector<decision>& out) {
  if (circuit_ == circuit_state::open && now >= open_until_ns_) {
    circuit_ = circuit_state::half_open;
    probe_.clear();
  }
  while (!burst_due_.empty() && burst_due_.begin()->first <= now) {
    auto key = burst_due_.begin()->second;
    burst_due_.erase(burst_due_.begin());
    auto b = bursts_.find(key);
    auto id = std::move(b->second.candidate);
    bursts_.erase(b);
    auto h = held_.find(id);
    auto run = std::move(h->second);
    held_.erase(h);
    to_ready(std::move(run), now, out);
  }
  while (!pile_due_.empty() && pile_due_.begin()->first <= now)
    flush_batch(pile_due_.begin()->second, out);
  while (!blocked_.empty() && blocked_.begin()->first <= now) {
    auto part = blocked_.begin()->second;
    blocked_.erase(blocked_.begin());
    if (auto p = parts_.find(part); p != parts_.end()) {
      p->second.blocked = false;
      relist(part);
    }
  }
  pump(now, out);
  // Spending of windows that are over carries no information either.
  if (cfg_.budget() && now - spent_swept_ns_ >= cfg_.budget_per_ns
      && spent_.size() > 64) {
    spent_swept_ns_ = now;
    const auto window = budget_window(now, cfg_.budget_per_ns);
    for (auto i = spent_.begin(); i != spent_.end();)
      i = i->second.window_ns != window ? spent_.erase(i) : std::next(i);
  }
  // Buckets that are full again carry no information: drop them, at most
  // once per rate period so the sweep stays cheap.
  if (cfg_.rate_limit > 0 && now - tat_swept_ns_ >= cfg_.rate_per_ns
      && tat_.size() > 64) {
    tat_swept_ns_ = now;
    for (auto i = tat_.begin(); i != tat_.end();)
      i = i->second <= now ? tat_.erase(i) : std::next(i);
  }
}

// --- release, time, reconfiguration ------------------------------------------

void scheduler::release(const std::string& run_id, int64_t now,
                        std::vector<decision>& out, std::optional<bool> ok,
                        double cost) {
  auto i = running_.find(run_id);
  if (i == running_.end())
    return;
  if (cfg_.budget() && cost > 0)
    spend(i->second.budget, 0, cost, now, out);
  if (cfg_.circuit_failures > 0 && ok)
    count_outcome(run_id, *ok, now, out);
  else if (run_id == probe_)
    probe_.clear(); // the probe waits: the next run probes instead
  auto s = std::move(i->second);
  running_.erase(i);
  if (auto p = parts_.find(s.part); p != parts_.end()) {
    if (p->second.running > 0)
      --p->second.running;
    relist(s.part);
  }
  if (cfg_.singleton) {
    auto si = singles_.find(s.single);
    if (si != singles_.end() && si->second.active == run_id) {
      auto next = std::move(si->second.next);
      if (next.empty()) {
        singles_.erase(si);
      } else {
        si->second.active = next;
        si->second.next.clear();
        si->second.stopping = false;
        auto h = held_.find(next);
        auto run = std::move(h->second);
        held_.erase(h);
        after_singleton(std::move(run), now, out);
      }
    }
  }
  settle(now, out);
}

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

void scheduler::advance(int64_t now, std::vector<decision>& out) {
  settle(now, out);
}

std::optional<int64_t> scheduler::next_due() const {
  std::optional<int64_t> due;
  auto consider = [&](int64_t t) {
    if (!due || t < *due)
      due = t;
  };
  if (!burst_due_.empty())
    consider(burst_due_.begin()->first);
  if (!pile_due_.empty())
    consider(pile_due_.begin()->first);
  if (!blocked_.empty())
    consider(blocked_.begin()->first);
  if (circuit_ == circuit_state::open)
    consider(open_until_ns_);
  return due;
}

void scheduler::reconfigure(settings s, int64_t now,
                            std::vector<decision>& out) {
  std::vector<item> again;
  again.reserve(held_.size());
  for (auto& [id, h] : held_)
    again.push_back(std::move(h.x));
  std::sort(again.begin(), again.end(),
            [](const item& a, const item& b) { return a.seq < b.seq; });
  held_.clear();
  singles_.clear();
  bursts_.clear();
  burst_due_.clear();
  piles_.clear();
  pile_due_.clear();
  parts_.clear();
  eligible_.clear();
  blocked_.clear();
  ready_by_seq_.clear();
  cfg_ = s;
  // Running runs keep their slots, counted under the new partitioning.
  for (auto& [id, slot] : running_) {
    ++parts_[slot.part].running;
    if (cfg_.singleton && singles_[slot.single].active.empty())
      singles_[slot.single].active = id;
  }
  for (auto& x : again)
    admit(std::move(x), now, out);
  settle(now, out);
}

// --- bookkeeping
// ----------------------------------------------------------------

void scheduler::remove(const std::string& id) {
  auto i = held_.find(id);
  if (i == held_.end())
    return;
  auto& h = i->second;
  switch (h.at) {
  case stage::ready: {
    auto p = parts_.find(h.part);
    if (p != parts_.end())
      p->second.waiting.erase({h.score, h.x.seq});
    ready_by_seq_.erase(h.x.seq);
    auto part = h.part;
    relist(part);
    break;
  }
  case stage::debounce: {
    const auto& key = h.x.keys.debounce_key;
    auto b = bursts_.find(key);
    if (b != bursts_.end() && b->second.candidate == id) {
      burst_due_.erase({b->second.due_ns, key});
      bursts_.erase(b);
    }
    break;
  }
  case stage::batch: {
    const auto& key = h.x.keys.batch_key;
    auto b = piles_.find(key);
    if (b != piles_.end()) {
      auto& ids = b->second.ids;
      ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
      if (ids.empty()) {
        pile_due_.erase({b->second.due_ns, key});
        piles_.erase(b);
      }
    }
    break;
  }
  case stage::next: {
    auto s = singles_.find(h.x.keys.singleton_key);
    if (s != singles_.end() && s->second.next == id)
      s->second.next.clear();
    break;
  }
  }
  forget(id);
}

void scheduler::forget(const std::string& id) {
  auto i = held_.find(id);
  if (i == held_.end())
    return;
  unmark_single(i->second.x);
  held_.erase(i);
}

void scheduler::unmark_single(const item& x) {
  if (!cfg_.singleton)
    return;
  auto s = singles_.find(x.keys.singleton_key);
  if (s != singles_.end() && s->second.active == x.run_id) {
    s->second.active.clear();
    if (s->second.next.empty())
      singles_.erase(s);
  }
}

void scheduler::skip(const std::string& id, std::string reason,
                     std::vector<decision>& out) {
  out.push_back({decision::skip, id, std::move(reason), {}});
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
