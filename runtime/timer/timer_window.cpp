// The timer window: an ordered set of held wakeups plus the set of fired keys
// awaiting their owner's disarm.
#include "runtime/timer/timer_window.hpp"

#include "runtime/store/store.hpp"

#include <algorithm>
#include <cassert>
#include <iterator>

namespace rouse::timer {

timer_window::timer_window(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      low_water_(std::max<std::size_t>(capacity_ / 2, 1)),
      window_end_(wakeup_key{}) {}

bool timer_window::below_end(const wakeup_key& key) const {
  return !window_end_ || key < *window_end_;
}

bool timer_window::arm(wakeup w) {
  auto key = w.key();
  if (!below_end(key) || fired_.contains(key))
    return false;
  auto [pos, inserted] = held_.insert(std::move(w));
  if (!inserted)
    return true;
  bool kept = true;
  while (held_.size() > capacity_) {
    auto last = std::prev(held_.end());
    if (last == pos)
      kept = false;
    // The dropped key is the largest held, so lowering window_end to it keeps
    // every held key below window_end.
    window_end_ = last->key();
    held_.erase(last);
  }
  return kept;
}

bool timer_window::disarm(const wakeup_key& key) {
  fired_.erase(key);
  auto i = held_.find(key);
  if (i == held_.end())
    return false;
  held_.erase(i);
  return true;
}

std::vector<wakeup> timer_window::take_due(int64_t now_ns, std::size_t max) {
  std::vector<wakeup> result;
  while (!held_.empty() && result.size() < max
         && held_.begin()->due_ns <= now_ns) {
    auto node = held_.extract(held_.begin());
    remember_fired(node.value().key());
    result.push_back(std::move(node.value()));
  }
  return result;
}

void timer_window::remember_fired(wakeup_key key) {
  fired_.insert(std::move(key));
  // Bounded: an owner that never disarms must not grow memory without limit.
  // Forgetting the oldest can at worst deliver it again (at-least-once).
  if (fired_.size() > capacity_)
    fired_.erase(fired_.begin());
}

std::optional<int64_t> timer_window::next_due() const {
  if (held_.empty())
    return std::nullopt;
  return held_.begin()->due_ns;
}

bool timer_window::needs_refill() const noexcept {
  return window_end_.has_value() && held_.size() < low_water_;
}

std::size_t timer_window::refill_limit(std::size_t max_batch) const noexcept {
  if (!window_end_ || held_.size() >= capacity_)
    return 0;
  return std::min(capacity_ - held_.size(), max_batch);
}

void timer_window::refill(std::vector<wakeup> batch, std::size_t requested) {
  if (!window_end_)
    return;
  bool exhausted = batch.size() < requested;
  std::optional<wakeup_key> last;
  if (!batch.empty())
    last = batch.back().key();
  for (auto& w : batch) {
    auto key = w.key();
    // A batch is read from window_end up; anything else is not ours to add.
    if (key < *window_end_ || fired_.contains(key))
      continue;
    held_.insert(std::move(w));
  }
  if (exhausted) {
    window_end_.reset();
  } else if (last) {
    // The successor of the last key read: (due, owner + '\0').
    last->owner.push_back('\0');
    window_end_ = std::move(*last);
  }
  // refill_limit() keeps a batch within capacity; a caller that read more
  // gets the same eviction as arm().
  while (held_.size() > capacity_) {
    auto i = std::prev(held_.end());
    window_end_ = i->key();
    held_.erase(i);
  }
}

caf::error refill_from(const store::store& db, timer_window& window,
                       std::size_t max_batch) {
  auto n = window.refill_limit(max_batch);
  if (n == 0 || !window.window_end())
    return {};
  auto batch = db.read_wakeups(*window.window_end(), n);
  if (!batch)
    return std::move(batch.error());
  window.refill(std::move(*batch), n);
  return {};
}

} // namespace rouse::timer
