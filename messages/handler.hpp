// The handler protocol: what a run asks a handler to do, and what the handler
// reports. Exec handlers and C++ actor handlers registered by embedding
// programs speak the same.
#pragma once

#include "messages/event.hpp"

#include <caf/meta/type_name.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rouse {

/// Asks a handler to execute one attempt of a run.
struct run_request {
  std::string run_id;
  std::string trigger;
  /// 1 for the first attempt; higher after a crash or retry.
  uint32_t attempt = 1;
  event ev;
  /// Empty for a first start; for a run that waited and resumes, why it woke:
  /// "sleep", "event", "timeout" or "wake" (woken early by request).
  std::string resume;
  /// On resume: the JSON state the handler asked to get back ("" for none).
  std::string state;
  /// On resume by an event: that event (one element); else empty.
  std::vector<event> wake_event;
  /// A batch run: every event of the batch in journal order (`ev` is the
  /// first); empty for a run of one event.
  std::vector<event> batch;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_request& x) {
  return f(caf::meta::type_name("run_request"), x.run_id, x.trigger, x.attempt,
           x.ev, x.resume, x.state, x.wake_event, x.batch);
}

/// What one attempt of a run came to.
struct run_outcome {
  /// True if the run succeeded (exit code 0 for exec handlers).
  bool ok = false;
  int32_t exit_code = -1;
  int32_t term_signal = 0;
  bool timed_out = false;
  /// Why it failed, if it did.
  std::string error;
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  /// With `ok`: the run goes to sleep or waits for an event instead of
  /// finishing (a run_wait kind: 0 none, 1 sleep, 2 event).
  uint8_t wait_kind = 0;
  /// Sleep: when to wake. Event: when to time out (0: never). UTC ns.
  int64_t wait_due_ns = 0;
  /// Event: the pattern (JSON) the event must match.
  std::string wait_pattern;
  /// Event: true to look back only from now, false (default) from the start of
  /// the attempt, so an event that arrived while the handler ran counts.
  bool wait_since_now = false;
  /// JSON handed back to the handler when it resumes ("" for none).
  std::string state;
  /// What the run reported it cost (charged to the trigger's budget); < 0: no
  /// report.
  double cost = -1;
  /// The run was stopped by request (rouse runs cancel, singleton cancel).
  bool cancelled = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_outcome& x) {
  return f(caf::meta::type_name("run_outcome"), x.ok, x.exit_code,
           x.term_signal, x.timed_out, x.error, x.stdout_text, x.stderr_text,
           x.output_truncated, x.started_ns, x.finished_ns, x.wait_kind,
           x.wait_due_ns, x.wait_pattern, x.wait_since_now, x.state, x.cost,
           x.cancelled);
}

/// For C++ actor handlers: the outcome that puts the run to sleep for `d`
/// (from `now_ns`, UTC ns) and hands `state_json` back when it resumes.
inline run_outcome sleep_for(std::chrono::nanoseconds d, int64_t now_ns,
                             std::string state_json = {}) {
  run_outcome o;
  o.ok = true;
  o.exit_code = 0;
  o.wait_kind = 1;
  o.wait_due_ns = now_ns + d.count();
  o.state = std::move(state_json);
  return o;
}

/// For C++ actor handlers: the outcome that makes the run wait for an event
/// matching `pattern_json` (an EventBridge pattern), for at most `timeout`
/// from `now_ns` (zero: no timeout), looking back to the start of the attempt.
inline run_outcome wait_for(std::string pattern_json,
                            std::chrono::nanoseconds timeout, int64_t now_ns,
                            std::string state_json = {}) {
  run_outcome o;
  o.ok = true;
  o.exit_code = 0;
  o.wait_kind = 2;
  o.wait_pattern = std::move(pattern_json);
  o.wait_due_ns = timeout.count() > 0 ? now_ns + timeout.count() : 0;
  o.state = std::move(state_json);
  return o;
}

} // namespace rouse
