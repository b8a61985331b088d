// A trigger's flow-control policies as its governor applies them (all times
// in ns). Built from the configuration (flow::settings_from) and sent to the
// governor when the trigger changes.
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>

namespace rouse {

/// A policy whose main number is 0 is off.
struct flow_settings {
  uint32_t concurrency = 0;
  /// The limit is per run_flow::concurrency_key rather than for the trigger.
  bool concurrency_keyed = false;
  uint32_t rate_limit = 0;
  int64_t rate_per_ns = 0;
  /// Over the rate: skip (drop) instead of waiting (delay).
  bool rate_drop = false;
  int64_t debounce_ns = 0;
  int64_t debounce_max_wait_ns = 0;
  uint32_t batch_max = 0;
  int64_t batch_wait_ns = 0;
  /// Priorities are used (else: journal order).
  bool priority = false;
  /// Each aging_ns waited adds 1 to a run's priority; 0: no aging.
  int64_t aging_ns = 0;
  bool singleton = false;
  bool singleton_cancel = false;
  uint32_t queue_max = 0;
  enum on_full_t : uint8_t { reject = 0, drop_oldest = 1, latest_wins = 2 };
  uint8_t on_full = reject;
  /// Circuit breaker: after this many consecutive failed runs no run starts
  /// for circuit_cool_ns, then one probe run decides; 0: off.
  uint32_t circuit_failures = 0;
  int64_t circuit_cool_ns = 0;
  /// While open, new runs go to the dead-letter queue instead of waiting.
  bool circuit_dlq = false;
  /// Budget per window of budget_per_ns (aligned to the epoch): runs started
  /// and cost reported; 0: that limit is off.
  uint64_t budget_runs = 0;
  double budget_cost = 0;
  int64_t budget_per_ns = 0;
  /// The budget is per run_flow::budget_key rather than for the trigger.
  bool budget_keyed = false;

  bool budget() const noexcept { return budget_runs > 0 || budget_cost > 0; }

  friend bool operator==(const flow_settings&, const flow_settings&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, flow_settings& x) {
  return f(caf::meta::type_name("flow_settings"), x.concurrency,
           x.concurrency_keyed, x.rate_limit, x.rate_per_ns, x.rate_drop,
           x.debounce_ns, x.debounce_max_wait_ns, x.batch_max, x.batch_wait_ns,
           x.priority, x.aging_ns, x.singleton, x.singleton_cancel, x.queue_max,
           x.on_full, x.circuit_failures, x.circuit_cool_ns, x.circuit_dlq,
           x.budget_runs, x.budget_cost, x.budget_per_ns, x.budget_keyed);
}

/// What one budget key of a trigger spent in one window: stored with the run
/// transitions that spend it, and given to the governor when it starts.
struct budget_usage {
  /// The rendered budget key ("" for a trigger-wide budget).
  std::string key;
  /// Start of the window (UTC ns, a multiple of the window length).
  int64_t window_ns = 0;
  /// Runs started (first attempts) and cost reported in the window.
  uint64_t runs = 0;
  double cost = 0;

  friend bool operator==(const budget_usage&, const budget_usage&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, budget_usage& x) {
  return f(caf::meta::type_name("budget_usage"), x.key, x.window_ns, x.runs,
           x.cost);
}

/// The start of the budget window of length `per_ns` that holds `now_ns`.
constexpr int64_t budget_window(int64_t now_ns, int64_t per_ns) noexcept {
  if (per_ns <= 0)
    return 0;
  auto w = now_ns / per_ns * per_ns;
  return w > now_ns ? w - per_ns : w; // floor for times before 1970
}

} // namespace rouse
