// The timer service: fires durable wakeups. It holds the soonest stored
// wakeups in a bounded window (runtime/timer) and keeps one self-scheduled
// `fire` message for the earliest; the wakeups themselves live in the store's
// `timers` database, written by their owners through the journal.
#pragma once

#include "messages/interfaces.hpp"
#include "messages/wakeup.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

namespace rouse::store {
class store;
} // namespace rouse::store

namespace rouse {

struct timer_service_config {
  /// The store the wakeups are read from; must outlive the actor. Required.
  store::store* db = nullptr;
  /// Most wakeups held in memory (about 200 bytes each with ~30-byte owners
  /// and 16-byte payloads). Default 100,000 (~20 MB). Smaller windows cost
  /// more refills (one short LMDB read per refill_batch wakeups); larger ones
  /// cost memory and a longer load at start.
  std::size_t capacity = 100'000;
  /// Most wakeups handed to on_due per message, so a backlog (e.g. after a
  /// restart) never holds the actor for long. Default 4,096.
  std::size_t fire_batch = 4096;
  /// Most wakeups read from the store per message when the window runs below
  /// half its capacity. Default 4,096 (a few ms of reading).
  std::size_t refill_batch = 4096;
  /// Wait before retrying a store read that failed. Default 1 s.
  std::chrono::milliseconds retry_delay{1000};
  /// Called from the actor with due wakeups in key order. It must not block;
  /// it routes each wakeup to its owner, which deletes it through the journal
  /// and then sends disarm_atom. The service never deletes a wakeup itself.
  std::function<void(std::vector<wakeup>&&)> on_due;
  /// Called once from the actor when the first window is loaded and the first
  /// `fire` is scheduled, with the number of wakeups held. Optional.
  std::function<void(std::size_t)> on_ready;
};

/// Spawns the timer service. It loads its first window from the store at
/// start (the restart path: wakeups due meanwhile fire at once). It re-arms
/// its own timer, so it stops only when sent an exit message.
timer_service_actor spawn_timer_service(caf::actor_system& sys,
                                        timer_service_config cfg);

} // namespace rouse
