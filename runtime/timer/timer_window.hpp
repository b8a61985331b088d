// The timer window: the soonest stored wakeups, held in memory so the timer
// service (actors/timer_service) can fire them without reading LMDB each time.
// Everything else stays in the store's `timers` database and is loaded by
// refills as the window drains.
#pragma once

#include "messages/errc.hpp"
#include "messages/wakeup.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace rouse::store {
class store;
} // namespace rouse::store

namespace rouse::timer {

/// Orders wakeups by key, and finds them by key alone.
struct wakeup_less {
  using is_transparent = void;
  bool operator()(const wakeup& a, const wakeup& b) const {
    return a.due_ns < b.due_ns || (a.due_ns == b.due_ns && a.owner < b.owner);
  }
  bool operator()(const wakeup& a, const wakeup_key& b) const {
    return a.due_ns < b.due_ns || (a.due_ns == b.due_ns && a.owner < b.owner);
  }
  bool operator()(const wakeup_key& a, const wakeup& b) const {
    return a.due_ns < b.due_ns || (a.due_ns == b.due_ns && a.owner < b.owner);
  }
};

/// A bounded, ordered in-memory window over the stored wakeups.
///
/// Invariant: every stored wakeup with key < window_end() that has not been
/// taken by take_due() is held here, and nothing >= window_end() is. Stored
/// wakeups at or above window_end() are loaded by refill(), which reads keys >=
/// window_end() from the store.
///
/// This holds as long as the caller arms only wakeups already committed to the
/// store and disarms only deletions already committed (the arm-after-commit
/// rule): an ignored arm (key >= window_end()) is then found by a later refill,
/// and a refill never misses a wakeup whose arm message is still in flight.
///
/// Wakeups handed out by take_due() stay in the store until their owner
/// deletes them and then disarms them here. Until that disarm they are
/// remembered as fired (up to capacity() keys, oldest forgotten first), so
/// neither a late arm message nor a refill delivers them a second time.
///
/// Thread safety: none; one owner (the timer service actor) uses it.
class timer_window {
public:
  /// Creates an empty window that holds at most `capacity` (>= 1) wakeups.
  /// It starts with window_end() at the smallest key, so the first refill()
  /// loads from the beginning of the store.
  explicit timer_window(std::size_t capacity);

  /// Holds `w` if its key is below window_end() and it has not fired; returns
  /// whether it is held now. A key already held is left as it is. Over
  /// capacity, the largest keys are dropped (they stay in the store) and
  /// window_end() is lowered to the smallest dropped key.
  bool arm(wakeup w);

  /// Forgets `key`: no longer held, no longer remembered as fired. Returns
  /// whether it was held.
  bool disarm(const wakeup_key& key);

  /// Removes and returns up to `max` held wakeups with due_ns <= now_ns, in
  /// key order, and remembers them as fired.
  std::vector<wakeup> take_due(int64_t now_ns, std::size_t max);

  /// Returns the earliest due time held, nullopt when empty.
  std::optional<int64_t> next_due() const;

  /// Returns true if the store may hold wakeups above the window
  /// (window_end() is finite) and fewer than low_water() are held.
  bool needs_refill() const noexcept;

  /// Returns how many wakeups a refill should read (at most `max_batch`):
  /// what fills the window to capacity.
  std::size_t refill_limit(std::size_t max_batch) const noexcept;

  /// Adds `batch`, read from the store as the first `requested` wakeups with
  /// key >= window_end(), in key order. Keys remembered as fired are skipped.
  /// Moves window_end() past the last key read, or to +infinity if fewer than
  /// `requested` were read (the store has nothing more).
  void refill(std::vector<wakeup> batch, std::size_t requested);

  /// Returns the exclusive upper bound of the window; nullopt = +infinity.
  const std::optional<wakeup_key>& window_end() const noexcept {
    return window_end_;
  }

  /// Returns the number of wakeups held.
  std::size_t size() const noexcept { return held_.size(); }

  /// Returns the number of keys remembered as fired and not yet disarmed.
  std::size_t fired_size() const noexcept { return fired_.size(); }

  std::size_t capacity() const noexcept { return capacity_; }

  /// Returns the size below which a refill is due: half the capacity.
  std::size_t low_water() const noexcept { return low_water_; }

private:
  bool below_end(const wakeup_key& key) const;
  void remember_fired(wakeup_key key);

  std::size_t capacity_;
  std::size_t low_water_;
  std::set<wakeup, wakeup_less> held_;
  std::set<wakeup_key> fired_;
  std::optional<wakeup_key> window_end_;
};

/// Reads the next batch for `window` from `db` and refills it. Returns the
/// store's error, leaving the window unchanged, if the read fails.
caf::error refill_from(const store::store& db, timer_window& window,
                       std::size_t max_batch);

} // namespace rouse::timer
