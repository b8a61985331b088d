// A governor: admits one trigger's pending runs under its flow policies
// (concurrency, rate, debounce, batch, priority, singleton, queue bound). The
// decisions come from flow::scheduler; this actor feeds it, keeps the run
// records it holds, keeps one timer for the next due decision, and sends what
// was decided to the dispatcher, which stores it.
#pragma once

#include "messages/interfaces.hpp"

#include <caf/fwd.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rouse {

struct governor_config {
  std::string trigger;
  flow_settings policy;
  dispatcher_actor dispatcher;
  /// What the budget keys spent before (from the store), for the window
  /// still current.
  std::vector<budget_usage> budget_spent;
  /// The circuit breaker's stored state (flow::scheduler::circuit_memo), and
  /// where to store it when it changes (may be empty).
  std::string circuit;
  std::function<void(std::string)> remember_circuit;
  /// The rate buckets' stored state (rate key, GCRA theoretical arrival
  /// time; flow::scheduler::rate_memo), and where to store a key's after each
  /// launch (may be empty).
  std::vector<std::pair<std::string, int64_t>> rate_tats;
  std::function<void(const std::string&, int64_t)> remember_rate;
  /// Runs held by every governor of the node, for backpressure; may be null.
  std::shared_ptr<std::atomic<int64_t>> held;
  /// The wall clock in ns (run records carry wall-clock times). Empty: the
  /// system clock. Tests give a clock that follows the actor system's.
  std::function<int64_t()> now;
};

/// Spawns the governor of one trigger.
governor_actor spawn_governor(caf::actor_system& sys, governor_config cfg);

} // namespace rouse
