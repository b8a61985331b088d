// Timer service behavior: arm/disarm maintain the window, one live `fire`
// message (tagged with a generation; CAF 0.17 cannot cancel a delayed_send)
// waits for the earliest due wakeup, and each `fire` hands out one bounded
// batch and refills one bounded chunk.
#include "actors/timer_service.hpp"

#include "messages/clock.hpp"
#include "runtime/store/store.hpp"
#include "runtime/timer/timer_window.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <iostream>
#include <optional>

namespace rouse {

namespace {

struct timer_service_state {
  timer_service_config cfg;
  std::optional<timer::timer_window> window;
  /// The generation of the live `fire` message; others are stale.
  uint64_t generation = 0;
  /// When the live `fire` message is due (wall clock ns); nullopt if none.
  std::optional<int64_t> scheduled_ns;
  /// No refill before this time (after a failed read).
  int64_t refill_not_before_ns = 0;
  /// on_ready has been called.
  bool ready = false;
  uint64_t fired = 0;
  uint64_t read_errors = 0;
  static inline const char* name = "timer_service";
};

using timer_service_pointer =
    timer_service_actor::stateful_pointer<timer_service_state>;

bool refill_due(timer_service_pointer self, int64_t now) {
  auto& st = self->state;
  return st.window->needs_refill() && now >= st.refill_not_before_ns;
}

// Reads one chunk into the window; on failure waits retry_delay.
void refill_once(timer_service_pointer self, int64_t now) {
  auto& st = self->state;
  if (auto err =
          timer::refill_from(*st.cfg.db, *st.window, st.cfg.refill_batch)) {
    ++st.read_errors;
    st.refill_not_before_ns =
        now
        + std::chrono::duration_cast<std::chrono::nanoseconds>(
              st.cfg.retry_delay)
              .count();
    std::cerr << "rouse: timer service: reading wakeups failed: "
              << describe(err) << "\n";
  }
}

// Makes sure one live `fire` message arrives by the earliest moment there is
// work: the earliest due wakeup, or now if a refill is due.
void schedule(timer_service_pointer self) {
  auto& st = self->state;
  auto now = wall_clock_ns();
  std::optional<int64_t> at = st.window->next_due();
  if (st.window->needs_refill()) {
    auto refill_at = std::max(now, st.refill_not_before_ns);
    at = at ? std::min(*at, refill_at) : refill_at;
  }
  if (!at || (st.scheduled_ns && *st.scheduled_ns <= *at))
    return;
  auto gen = ++st.generation;
  st.scheduled_ns = *at;
  if (*at <= now)
    self->send(self, fire_atom::value, gen);
  else
    self->delayed_send(self, std::chrono::nanoseconds{*at - now},
                       fire_atom::value, gen);
}

// Calls on_ready once the first window is in memory (at start, or after the
// store recovered from a failed first read).
void check_ready(timer_service_pointer self) {
  auto& st = self->state;
  if (st.ready || st.window->needs_refill())
    return;
  st.ready = true;
  if (st.cfg.on_ready)
    st.cfg.on_ready(st.window->size());
}

timer_service_actor::behavior_type timer_service(timer_service_pointer self,
                                                 timer_service_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.window.emplace(st.cfg.capacity);
  // The first window, whole: "ready" means loaded and scheduled.
  auto now = wall_clock_ns();
  while (st.window->refill_limit(st.cfg.refill_batch) > 0
         && st.read_errors == 0)
    refill_once(self, now);
  schedule(self);
  check_ready(self);
  return {
      [=](arm_atom, std::vector<wakeup>& wakeups) {
        for (auto& w : wakeups)
          self->state.window->arm(std::move(w));
        schedule(self);
      },
      [=](disarm_atom, const std::vector<wakeup_key>& keys) {
        for (auto& key : keys)
          self->state.window->disarm(key);
        schedule(self);
      },
      [=](fire_atom, uint64_t gen) {
        auto& st = self->state;
        if (gen != st.generation)
          return;
        st.scheduled_ns.reset();
        auto now = wall_clock_ns();
        auto due = st.window->take_due(now, st.cfg.fire_batch);
        if (!due.empty()) {
          st.fired += due.size();
          if (st.cfg.on_due)
            st.cfg.on_due(std::move(due));
        }
        if (refill_due(self, now))
          refill_once(self, now);
        schedule(self);
        check_ready(self);
      },
  };
}

} // namespace

timer_service_actor spawn_timer_service(caf::actor_system& sys,
                                        timer_service_config cfg) {
  return sys.spawn(timer_service, std::move(cfg));
}

} // namespace rouse
