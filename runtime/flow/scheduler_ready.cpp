// The scheduler's ready queue (partitions started in order, by priority and
// age), the release of finished runs, and the bookkeeping that removes a held
// run from whichever stage holds it.
#include "runtime/flow/scheduler.hpp"

#include <algorithm>
#include <limits>

namespace rouse::flow {

// --- the ready queue ---------------------------------------------------------

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

// --- release -----------------------------------------------------------------

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

// --- bookkeeping -------------------------------------------------------------

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

} // namespace rouse::flow
