// The run record: one execution of a trigger's handler for one event, with
// every state transition it went through. Stored in LMDB (runtime/store) and
// sent between actors.
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rouse {

/// The states of a run. Stored as their numeric value: never renumber.
enum class run_state : uint8_t {
  /// Created by a router shard, waiting for its governor to admit it.
  pending = 0,
  /// The handler is executing.
  running = 1,
  /// The handler finished successfully (exit code 0).
  succeeded = 2,
  /// The handler failed (non-zero exit, timeout, spawn error) and has no
  /// attempts left.
  failed = 3,
  /// Failed, with another attempt scheduled.
  retrying = 4,
  /// Gave up; moved to the dead-letter queue.
  dead = 5,
  /// Asleep or waiting for an event.
  waiting = 6,
  /// Cancelled (through the API or CLI) before it finished.
  cancelled = 7,
  /// Not run by its trigger's flow control: debounced, batched into another
  /// run, dropped by a rate limit, a singleton or a full queue (the last
  /// transition says which).
  skipped = 8,
};

/// Returns "pending", "running", ... for `x`.
const char* to_string(run_state x) noexcept;

/// Parses a state name; nullopt for an unknown name.
std::optional<run_state> parse_run_state(std::string_view name) noexcept;

/// Returns true for states a run never leaves (succeeded, failed, dead,
/// cancelled, skipped).
bool is_terminal(run_state x) noexcept;

/// One stored state transition.
struct run_transition {
  uint8_t state = 0; // a run_state
  int64_t at_ns = 0;
  /// Why the transition happened ("exit 3", "timeout after 15s", "recovered
  /// after restart").
  std::string note;

  friend bool operator==(const run_transition&,
                         const run_transition&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_transition& x) {
  return f(caf::meta::type_name("run_transition"), x.state, x.at_ns, x.note);
}

/// What a waiting run waits for, and what it was given when it woke. The
/// handler's state travels from the attempt that asked to wait to the one that
/// resumes.
struct run_wait {
  /// Not waiting; asleep until `due_ns`; or waiting for an event matching
  /// `pattern` (until `due_ns` if that is not 0). Stored numerically.
  enum kind_t : uint8_t { none = 0, sleep = 1, event = 2 };
  uint8_t kind = none;
  /// When the run wakes (sleep) or times out (event); 0: no timeout. For a
  /// `retrying` run: when its next attempt is due (a stored wakeup).
  int64_t due_ns = 0;
  /// The pattern (JSON) an event must match to wake the run.
  std::string pattern;
  /// Events with a higher seq count: the journal position when the attempt
  /// started (lookback) or when the wait was registered.
  uint64_t since_seq = 0;
  /// The journal position when the current attempt started.
  uint64_t start_seq = 0;
  /// JSON the handler asked to get back when it resumes; empty: none.
  std::string state;
  /// Why the run last woke: sleep, event, timeout or wake (early, by request);
  /// empty if it never waited.
  std::string reason;
  /// The event that woke it (reason "event").
  uint64_t event_seq = 0;
  /// How many times the run has resumed.
  uint32_t resumes = 0;

  friend bool operator==(const run_wait&, const run_wait&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_wait& x) {
  return f(caf::meta::type_name("run_wait"), x.kind, x.due_ns, x.pattern,
           x.since_seq, x.start_seq, x.state, x.reason, x.event_seq, x.resumes);
}

/// What the governor of a run's trigger decides by: keys and priority rendered
/// from the event when the run was created, and the events of a batch.
struct run_flow {
  /// Rendered `key` templates of the trigger's policies; empty when the
  /// policy has no key (or is off).
  std::string concurrency_key;
  std::string rate_key;
  std::string debounce_key;
  std::string batch_key;
  std::string singleton_key;
  /// Rendered `priority` (0 when none).
  int64_t priority = 0;
  /// A batch run: the seqs of every event it receives, its own first; empty
  /// for a run of one event.
  std::vector<uint64_t> batch;
  /// Rendered `budget.key` (stored after `batch`: records written before
  /// budgets end at `batch`).
  std::string budget_key;
  friend bool operator==(const run_flow&, const run_flow&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_flow& x) {
  return f(caf::meta::type_name("run_flow"), x.concurrency_key, x.rate_key,
           x.debounce_key, x.batch_key, x.singleton_key, x.priority, x.batch,
           x.budget_key);
}

/// The owner name of a run's wakeup in the timer service: "run/<id>".
std::string run_wakeup_owner(std::string_view run_id);

/// A run and everything stored about it.
struct run_record {
  /// Derived from (event seq, trigger), so replaying an event creates no second
  /// run.
  std::string id;
  std::string trigger;
  uint64_t event_seq = 0;
  std::string event_id;
  std::string event_type;
  uint8_t state = 0; // a run_state
  /// 1 for the first execution; incremented each time the handler is started
  /// again.
  uint32_t attempt = 0;
  /// The handler's exit code; -1 while unknown or when killed by a signal.
  int32_t exit_code = -1;
  /// Signal that ended the process, 0 if none.
  int32_t term_signal = 0;
  /// Captured stdout and stderr (each capped), and whether the cap cut them.
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;
  /// Why the run failed, if it did ("timeout after 15s", "spawn: No such
  /// file").
  std::string error;
  int64_t created_ns = 0;
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  std::vector<run_transition> history;
  /// Sleep, wait and resume details (stored after `history`; records written
  /// before waits existed decode with an empty one).
  run_wait wait;
  /// Flow-control keys and batch (stored after `wait`; older records decode
  /// with an empty one).
  run_flow flow;
  /// The sum of the costs its attempts reported through $ROUSE_CONTROL
  /// (budgets); stored last.
  double cost = 0;

  run_state current() const noexcept { return static_cast<run_state>(state); }

  /// Sets the state and appends the transition to `history`.
  void transition(run_state to, int64_t at_ns, std::string note = {});

  friend bool operator==(const run_record&, const run_record&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_record& x) {
  return f(caf::meta::type_name("run_record"), x.id, x.trigger, x.event_seq,
           x.event_id, x.event_type, x.state, x.attempt, x.exit_code,
           x.term_signal, x.stdout_text, x.stderr_text, x.output_truncated,
           x.error, x.created_ns, x.started_ns, x.finished_ns, x.history,
           x.wait, x.flow, x.cost);
}

/// Asks the dispatcher to wake a waiting run.
struct wake_request {
  std::string run_id;
  /// "timer" (its stored wakeup fired), "event" (an event matched its wait)
  /// or "wake" (early, by request).
  std::string reason;
  /// The matching event (reason "event").
  uint64_t event_seq = 0;
  /// The due time of the wakeup that fired (reason "timer"); a wakeup that no
  /// longer matches the run's wait is stale and only removed.
  int64_t due_ns = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wake_request& x) {
  return f(caf::meta::type_name("wake_request"), x.run_id, x.reason,
           x.event_seq, x.due_ns);
}

/// The `received_by` of events emitted by a run of `trigger` (API calls with
/// the run's token): "run:<trigger>".
std::string emitted_by(std::string_view trigger);

/// The `source` of the events rouse publishes about runs (rouse.run.started,
/// .succeeded, .failed, .dead, .waiting).
inline constexpr std::string_view run_event_source = "rouse";

/// Returns the run id for (event seq, trigger): "<seq as 16 hex
/// digits>-<trigger>". Trigger names are restricted to [A-Za-z0-9_.-] by the
/// config, so ids are URL-safe.
std::string make_run_id(uint64_t event_seq, std::string_view trigger);

} // namespace rouse
