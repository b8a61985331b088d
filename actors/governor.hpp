// A governor: admits one trigger's pending runs under its flow-control policy.
// For now the policy is a concurrency limit; rate, debounce, batch and the rest
// build on this actor.
#pragma once

#include "messages/interfaces.hpp"

#include <caf/fwd.hpp>

#include <cstdint>
#include <string>

namespace rouse {

struct governor_config {
  std::string trigger;
  /// Most runs of the trigger executing at once; 0 means no limit. Runs over
  /// the limit wait in memory in arrival order (they are durable as `pending`
  /// in the store).
  uint32_t concurrency = 0;
  dispatcher_actor dispatcher;
};

/// Spawns the governor of one trigger.
governor_actor spawn_governor(caf::actor_system& sys, governor_config cfg);

} // namespace rouse
