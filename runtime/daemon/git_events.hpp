// The events `rouse git hook` reports (private to runtime/daemon/git*.cpp):
// one function per hook collects the facts with git and returns them as
// CloudEvents with source "git" (docs/events.md, "Local git hooks").
#pragma once

#include "runtime/daemon/git.hpp"

#include <caf/expected.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace rouse::cli::detail {

/// CloudEvents as structured JSON, in the order they are posted.
using event_list = std::vector<std::string>;

/// Returns the `git.commit` event of HEAD.
caf::expected<event_list> post_commit(git_runner& git, const std::string& repo);

/// Returns the `git.merge` event of the merge that moved HEAD from ORIG_HEAD;
/// `args` are the hook's arguments (the squash flag).
caf::expected<event_list> post_merge(git_runner& git, const std::string& repo,
                                     const std::vector<std::string>& args);

/// Returns the `git.checkout` event; `args` are the hook's arguments (before,
/// after, branch flag).
caf::expected<event_list> post_checkout(git_runner& git,
                                        const std::string& repo,
                                        const std::vector<std::string>& args);

/// Returns the `git.rewrite` event of the "<before> <after>" lines in `input`;
/// `args` are the hook's arguments (amend or rebase).
caf::expected<event_list> post_rewrite(git_runner& git, const std::string& repo,
                                       const std::vector<std::string>& args,
                                       std::string_view input);

/// Returns a `git.push` event per ref update in `input`.
caf::expected<event_list> post_receive(git_runner& git, const std::string& repo,
                                       std::string_view input);

/// reference-transaction runs three times per transaction. "prepared" (refs
/// locked, not yet changed) records each ref's real old value in the git
/// directory; "committed" reports the updates whose outcome is visible, with
/// those old values. That skips what is not a change of a ref (git pack-refs
/// moving loose refs into packed-refs, a deletion of a loose ref that a packed
/// one shadows) and fills in the old value an updater did not state. Updates
/// made by receive-pack get the same id as post-receive's report of them, so
/// the second report is a duplicate.
caf::expected<event_list> reference_transaction(
    git_runner& git, const std::string& repo, const std::string& git_dir,
    const std::vector<std::string>& args, std::string_view input);

} // namespace rouse::cli::detail
