// The subcommands of the rouse CLI; main.cpp parses arguments and calls one of
// these. Each returns the process exit code: 0 ok, 1 failure, 2 usage or config
// error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  /// Empty: list or show; "wake" or "cancel": act on run_id.
  std::string action;
  std::string trigger, state, run_id;
  uint32_t limit = 50;
  bool json = false;
};
int runs(const server_target& target, const runs_args& args);

/// Prints "match" (exit 0) or "no match" (exit 1) for the pattern in one JSON
/// file against the CloudEvent in another; exit 2 with the reason for an
/// invalid pattern, event or unreadable file.
int match(const std::string& pattern_path, const std::string& event_path);

/// Options of `rouse cron next` (docs/cron.md).
struct cron_next_args {
  /// The cron expression, e.g. "30 2 * * *" or "@every 1h".
  std::string expr;
  /// IANA zone whose wall time the fields match.
  std::string timezone = "UTC";
  /// ISO 8601 start (exclusive); empty means now. Without an offset it is
  /// local time in `timezone`.
  std::string from;
  /// How many fire times to print, 1-10000.
  uint32_t count = 5;
  /// "once" or "twice": local times a fall-back repeats.
  std::string repeated = "once";
  /// "shift" or "skip": local times a spring-forward skips.
  std::string skipped = "shift";
  /// Hidden, for the differential test: a file of `expr\tzone\tfrom\tcount`
  /// lines (optionally `\trepeated\tskipped`); answers are printed per line,
  /// each followed by a blank line, "error: <reason>" for a bad line.
  std::string batch_path;
};

/// Prints the next fire times of a cron expression, one ISO 8601 time with
/// offset per line (offline). Exit 2 with the reason for an invalid
/// expression, zone or --from; exit 0 after fewer lines if the schedule has no
/// more fire times (noted on stderr).
int cron_next(const cron_next_args& args);

struct triggers_args {
  /// ls, show, add, rm, enable, disable, resume or budget.
  std::string command;
  std::string name;
  /// For resume: one budget key (every key unless `has_key`).
  std::string key;
  bool has_key = false;
  /// For add: a JSON file with the trigger, "-" for stdin.
  std::string file;
  /// For add: replace a trigger of that name (PUT) instead of failing.
  bool replace = false;
  bool json = false;
};
int triggers(const server_target& target, const triggers_args& args);

struct dlq_args {
  /// ls, show, replay or drop.
  std::string command;
  std::string run_id;
  uint32_t limit = 50;
  bool json = false;
};
int dlq(const server_target& target, const dlq_args& args);

struct wake_me_args {
  /// A duration such as "5m".
  std::string in;
  /// JSON handed back on resume ("" for none).
  std::string state;
};
/// Inside a run: asks the server (ROUSE_API, ROUSE_RUN_ID, ROUSE_RUN_TOKEN)
/// to put this run to sleep for `in` once its process exits 0, and to resume
/// it then with ROUSE_RESUME=sleep. Exit 2 outside a run.
int wake_me(const server_target& target, const wake_me_args& args);

struct timers_args {
  /// Empty: every schedule; else one cron source's ticks.
  std::string id;
  bool json = false;
};
/// Lists the cron sources (next fire time, counts of fired, skipped and
/// missed ticks), or shows one with its recent tick outcomes.
int timers(const server_target& target, const timers_args& args);

struct explain_args {
  std::string event_id, source;
  bool json = false;
};
int explain(const server_target& target, const explain_args& args);

/// Options of `rouse git install-hooks` (docs/git.md).
struct git_install_args {
  /// The repository: a work tree (or a directory in it), a bare repository
  /// or a linked worktree.
  std::string repo_path;
  /// The repository name the hooks report (`repo` of every event). Empty:
  /// each hook run derives it from the repository's directory name, without
  /// ".git".
  std::string repo_name;
  /// Remove rouse's hooks and put back the hooks they chained.
  bool uninstall = false;
};

/// Installs hooks in the repository's hooks directory (core.hooksPath is
/// honoured) that report to the server named by `server_url` and/or
/// `config_path` (baked into the hooks; the token is read when a hook runs,
/// never stored): post-commit, post-merge, post-checkout and post-rewrite in a
/// work tree, post-receive and reference-transaction in a bare repository. A
/// hook that is already there keeps running first, renamed to
/// `<hook>.rouse-chained`; installing again only rewrites rouse's hooks. With
/// `uninstall`, removes rouse's hooks and restores the chained ones. Changes
/// nothing if any hook cannot be installed.
int git_install_hooks(const std::string& server_url,
                      const std::string& config_path,
                      const git_install_args& args);

/// Options of `rouse git hook` (what installed hooks run).
struct git_hook_args {
  /// post-commit, post-merge, post-checkout, post-rewrite, post-receive or
  /// reference-transaction.
  std::string hook;
  /// The arguments git gave the hook.
  std::vector<std::string> args;
  /// As in git_install_args.
  std::string repo_name;
};

/// Runs as the git hook `args.hook` in the repository of the current
/// directory (or $GIT_DIR): collects facts with git, posts the events of
/// docs/events.md ("Local git hooks") to /api/events and returns 0. Any
/// failure, including an unreachable server, prints one line "rouse: could
/// not report <hook> to <server>: <reason>" and still returns 0, so git is
/// never failed; git commands and the request share a budget of 5 s. Returns
/// 2 only for an unknown hook name.
int git_hook(const std::string& server_url, const std::string& config_path,
             const git_hook_args& args);

} // namespace rouse::cli
