// JSON renderings of runs for the HTTP API (the CLI prints what the API
// returns).
#pragma once

#include "messages/run.hpp"

#include <string>

namespace rouse::api {

/// Returns a run as JSON: id, trigger, event, state, attempt, exit code,
/// signal, error, output, times (RFC 3339) and history. `with_output` false
/// leaves out stdout/stderr (for listings).
std::string render_run(const run_record& run, bool with_output);

} // namespace rouse::api
