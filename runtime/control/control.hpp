// The control file protocol of exec handlers (docs/handlers.md): a process may
// write one JSON object to $ROUSE_CONTROL to go to sleep, wait for an event,
// hand state to its next attempt or report a cost, instead of just exiting.
#pragma once

#include "messages/errc.hpp"
#include "messages/handler.hpp"

#include <cstdint>
#include <string_view>

namespace rouse::control {

/// The most bytes of a control file that are read; a larger file is an error.
inline constexpr std::size_t max_control_bytes = 1024 * 1024;

/// Reads a control document into `out`, the outcome of a process that exited
/// with 0 at `now_ns` (UTC ns). Accepted keys:
/// - `sleep`: a duration ("5m", "90s"): wake at now + duration;
/// - `sleep_until`: an ISO 8601 time with offset ("2026-12-01T09:00:00Z");
///   a time in the past wakes at once;
/// - `wait_for`: `{"pattern": {...}, "timeout": "1h", "since": "run_start" |
///   "now"}`: wake when an event matches the pattern (an EventBridge pattern)
///   or at the timeout (none: wait forever). `since` defaults to run_start,
///   so an event that arrived while the handler ran is not missed;
/// - `state`: any JSON value, handed back on resume;
/// - `cost`: a non-negative number (budgets).
/// At most one of sleep, sleep_until and wait_for. Whitespace-only text asks
/// for nothing. Anything else, an unknown key included, is an
/// errc::invalid_input error naming the key, and `out` is left unchanged.
caf::error apply(std::string_view text, int64_t now_ns, run_outcome& out);

} // namespace rouse::control
