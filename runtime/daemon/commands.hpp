// The subcommands of the rouse CLI; main.cpp parses arguments and calls one of
// these. Each returns the process exit code: 0 ok, 1 failure, 2 usage or config
// error.
#pragma once

#include <cstdint>
#include <string>

namespace rouse::cli {

/// Where a client command finds the server.
struct server_target {
  std::string host = "127.0.0.1";
  uint16_t port = 7700;
  std::string token;
};

/// Resolves the server from --server URL, else $ROUSE_API, else the config's
/// listen address (when a config path is given), else 127.0.0.1:7700. The token
/// comes from $ROUSE_TOKEN, else the config's api_token. Returns false and
/// prints the reason on a bad URL or config.
bool resolve_server(const std::string& server_url,
                    const std::string& config_path, server_target& out);

struct serve_args {
  std::string config_path;
  bool bench_control = false;
};
int serve(const serve_args& args);

int check(const std::string& config_path);

struct emit_args {
  std::string type, source = "cli", id, subject, data;
  bool json = false;
};
int emit(const server_target& target, const emit_args& args);

struct runs_args {
  std::string trigger, state, run_id;
  uint32_t limit = 50;
  bool json = false;
};
int runs(const server_target& target, const runs_args& args);

/// Prints "match" (exit 0) or "no match" (exit 1) for the pattern in one JSON
/// file against the CloudEvent in another; exit 2 with the reason for an
/// invalid pattern, event or unreadable file.
int match(const std::string& pattern_path, const std::string& event_path);

struct triggers_args {
  /// ls, show, add, rm, enable or disable.
  std::string command;
  std::string name;
  /// For add: a JSON file with the trigger, "-" for stdin.
  std::string file;
  /// For add: replace a trigger of that name (PUT) instead of failing.
  bool replace = false;
  bool json = false;
};
int triggers(const server_target& target, const triggers_args& args);

struct explain_args {
  std::string event_id, source;
  bool json = false;
};
int explain(const server_target& target, const explain_args& args);

} // namespace rouse::cli
