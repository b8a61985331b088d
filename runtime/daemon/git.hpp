// What `rouse git`'s files share (private to runtime/daemon/git*.cpp): the
// hooks rouse knows, git commands under one deadline (argv arrays, never a
// shell) and what git says about a repository. The commands are in
// git_install.cpp and git_hook.cpp, the events hooks report in
// git_events.cpp; docs/git.md describes the commands.
#pragma once

#include "runtime/daemon/commands.hpp"
#include "runtime/exec/process_runner.hpp"

#include <caf/expected.hpp>

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::cli::detail {

struct hook_info {
  std::string_view name;
  /// True if git writes lines to the hook's stdin.
  bool reads_stdin;
  /// True for hooks installed in bare repositories, false for work trees.
  bool bare;
};

inline constexpr std::array<hook_info, 6> known_hooks{{
    {"post-commit", false, false},
    {"post-merge", false, false},
    {"post-checkout", false, false},
    {"post-rewrite", true, false},
    {"post-receive", true, true},
    {"reference-transaction", true, true},
}};

/// Returns the entry of `known_hooks` named `name`, nullptr if there is none.
const hook_info* find_hook(std::string_view name);

/// Returns the lines of `text` without their '\n'; no empty last line.
std::vector<std::string_view> split_lines(std::string_view text);

/// Returns the blank-separated words of `line`.
std::vector<std::string_view> split_words(std::string_view line);

/// Returns `s` without its trailing '\n' and '\r' characters.
std::string trim_trailing_newlines(std::string_view s);

/// Returns the server's base URL, e.g. "http://127.0.0.1:7700".
std::string server_text(const server_target& t);

/// Runs git commands under one deadline shared by all of them.
class git_runner {
public:
  explicit git_runner(std::chrono::steady_clock::time_point deadline)
      : deadline_(deadline) {}

  /// Returns how git exited, with its output; an error if git could not run
  /// or the deadline passed first.
  caf::expected<exec::process_result> run(std::vector<std::string> args);

  /// Returns git's stdout; a non-zero exit is an error with git's message.
  caf::expected<std::string> output(std::vector<std::string> args);

private:
  /// Returns the git command `args` runs, past "-C DIR" and "-c NAME=VALUE".
  static std::string subcommand(const std::vector<std::string>& args);

  exec::process_runner runner_{[] {
    exec::runner_options o;
    o.max_processes = 4;
    return o;
  }()};
  std::chrono::steady_clock::time_point deadline_;
};

/// What install-hooks and a hook run need to know about a repository.
struct repo_facts {
  bool bare = false;
  /// Absolute: the directory with objects and refs, shared by worktrees.
  std::string common_dir;
  /// Absolute: where git looks for hooks (core.hooksPath when set).
  std::string hooks_dir;
};

/// Asks git about the repository in `dir` (empty: the current directory).
caf::expected<repo_facts> inspect_repo(git_runner& git, const std::string& dir);

/// Returns the repository's default name: its directory's name without
/// ".git" (for a work tree, the directory holding .git).
std::string default_repo_name(const std::string& common_dir);

} // namespace rouse::cli::detail
