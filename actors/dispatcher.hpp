// The dispatcher: moves each admitted run to `running` (stored), calls the
// trigger's handler, stores the outcome, then releases the run's slot at its
// governor.
#pragma once

#include "actors/trigger_table.hpp"
#include "messages/interfaces.hpp"

#include <caf/fwd.hpp>

#include <cstdint>

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
};

/// Spawns the dispatcher.
dispatcher_actor spawn_dispatcher(caf::actor_system& sys,
                                  dispatcher_config cfg);

} // namespace rouse
