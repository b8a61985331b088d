// The dispatcher: moves each admitted run to `running` (stored), calls the
// trigger's handler, stores the outcome, then releases the run's slot at its
// governor.
#pragma once

#include "actors/trigger_table.hpp"
#include "messages/interfaces.hpp"
#include "runtime/config/config.hpp"

#include <caf/fwd.hpp>

#include <atomic>
#include <cstdint>
#include <memory>

namespace rouse::store {
class journal;
class store;
} // namespace rouse::store

namespace rouse::metrics {
class registry;
} // namespace rouse::metrics

namespace rouse {

struct dispatcher_config {
  /// The current triggers, looked up by name for every step of a run.
  trigger_registry_ptr triggers;
  /// Must outlive the actor.
  store::journal* journal = nullptr;
  store::store* db = nullptr;
  metrics::registry* metrics = nullptr;
  /// Most runs executing at once on this host, across all triggers. Runs over
  /// it stay `pending` and start in arrival order as others finish. Default
  /// 128, below the process runner's 256 processes, so exec handlers never find
  /// the runner overloaded.
  uint32_t max_running = 128;
  /// The dispatcher starts (and links) the timer service that wakes sleeping
  /// runs and times out waits: at most this many wakeups in memory. Default
  /// 100,000.
  std::size_t timer_capacity = 100'000;
  /// The number of runs waiting for an event. The host hands committed events
  /// to the dispatcher only while it is not 0.
  std::shared_ptr<std::atomic<uint32_t>> waits_active =
      std::make_shared<std::atomic<uint32_t>>(0);
  /// Counts the runs waiting for an execution slot (over max_running), with
  /// those governors hold: the backpressure gauge. May be null.
  std::shared_ptr<std::atomic<int64_t>> queued;
  /// Publish rouse.run.* events with run transitions (node.run_events):
  /// with `automatic`, only while a trigger names them
  /// (trigger_table::run_events) or a run waits for an event.
  config::node_config::run_events_mode run_events =
      config::node_config::run_events_mode::automatic;
};

/// Spawns the dispatcher (and its timer service).
dispatcher_actor spawn_dispatcher(caf::actor_system& sys,
                                  dispatcher_config cfg);

} // namespace rouse
