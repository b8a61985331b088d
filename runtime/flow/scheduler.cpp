// The scheduler's stages. Every held run lives in held_ and in exactly one
// stage structure; every launched run lives in running_ until released. This
// file admits runs (singleton, debounce, batch, then ready) and handles time
// and reconfiguration; the ready queue and release are in scheduler_ready.cpp,
// the circuit breaker, budgets and rate tokens in scheduler_limits.cpp.
#include "runtime/flow/scheduler.hpp"

#include "runtime/flow/scheduler_detail.hpp"

#include <algorithm>
#include <chrono>

namespace rouse::flow {

using detail::format_ns;
using detail::ns;
using detail::with_key;

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

// --- time, reconfiguration ---------------------------------------------------

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

} // namespace rouse::flow
