// The exec handler: runs one trigger's command as a process per run attempt
// (argv array, no shell), with the event on stdin and the run described in the
// environment. Process supervision happens on the process runner's thread
// (runtime/exec), never on the pool.
#pragma once

#include "messages/interfaces.hpp"
#include "runtime/api/run_token.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rouse::exec {
class process_runner;
} // namespace rouse::exec

namespace rouse {

struct exec_handler_config {
  std::string trigger;
  /// argv; argv[0] is searched in PATH when it has no '/'.
  std::vector<std::string> argv;
  /// Working directory of the process.
  std::string cwd;
  /// Extra environment entries (after the inherited environment, before
  /// ROUSE_*).
  std::vector<std::pair<std::string, std::string>> env;
  /// 0 = no limit; then SIGTERM to the process group, SIGKILL after kill_grace.
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds kill_grace{5000};
  /// Cap per stream of captured stdout/stderr stored in the run record.
  std::size_t output_cap_bytes = 64 * 1024;
  /// Base URL of this host's API, given to the process as ROUSE_API.
  std::string api_url;
  /// Issues the run's ROUSE_RUN_TOKEN; may be null (no token).
  std::shared_ptr<const api::run_tokens> tokens;
  /// Shared by every exec handler; must outlive the actor.
  std::shared_ptr<exec::process_runner> runner;
};

/// Returns the environment entries ("KEY=VALUE") rouse sets for a run attempt:
/// the trigger's env with `{{path}}` templates rendered against the event
/// (paths the event lacks render empty and are appended to `missing`), then
/// ROUSE_*.
std::vector<std::string>
run_environment(const exec_handler_config& cfg, const run_request& req,
                std::vector<std::string>* missing = nullptr);

/// Spawns an exec handler for one trigger.
exec_handler_actor spawn_exec_handler(caf::actor_system& sys,
                                      exec_handler_config cfg);

} // namespace rouse
