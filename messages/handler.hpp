// The handler protocol: what a run asks a handler to do, and what the handler
// reports. Exec handlers and C++ actor handlers registered by embedding
// programs speak the same.
#pragma once

#include "messages/event.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>

namespace rouse {

/// Asks a handler to execute one attempt of a run.
struct run_request {
  std::string run_id;
  std::string trigger;
  /// 1 for the first attempt; higher after a crash or retry.
  uint32_t attempt = 1;
  event ev;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_request& x) {
  return f(caf::meta::type_name("run_request"), x.run_id, x.trigger, x.attempt,
           x.ev);
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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_outcome& x) {
  return f(caf::meta::type_name("run_outcome"), x.ok, x.exit_code,
           x.term_signal, x.timed_out, x.error, x.stdout_text, x.stderr_text,
           x.output_truncated, x.started_ns, x.finished_ns);
}

} // namespace rouse
