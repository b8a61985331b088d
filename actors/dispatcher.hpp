// The dispatcher: moves each admitted run to `running` (stored), calls the
// trigger's handler, stores the outcome, then releases the run's slot at its
// governor.
#pragma once

#include "actors/trigger_table.hpp"
#include "messages/interfaces.hpp"

#include <caf/fwd.hpp>

namespace rouse::store {
class journal;
class store;
} // namespace rouse::store

namespace rouse::metrics {
class registry;
} // namespace rouse::metrics

namespace rouse {

struct dispatcher_config {
  trigger_table_ptr table;
  /// Must outlive the actor.
  store::journal* journal = nullptr;
  store::store* db = nullptr;
  metrics::registry* metrics = nullptr;
};

/// Spawns the dispatcher.
dispatcher_actor spawn_dispatcher(caf::actor_system& sys,
                                  dispatcher_config cfg);

} // namespace rouse
