// `rouse git hook`: what the installed hooks run. Reads the hook's input,
// builds its events (git_events.cpp) and posts them to /api/events; a failure
// is one line on stderr and never fails git.
#include "runtime/daemon/git.hpp"
#include "runtime/daemon/git_events.hpp"

#include "messages/errc.hpp"
#include "runtime/http/client.hpp"
#include "runtime/json/writer.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

namespace rouse::cli {

namespace detail {

namespace {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

/// How long the git commands of one hook run may take together. With the
/// request's share below, a hook holds git up for at most about 5 s, even
/// when the server is down or slow.
constexpr milliseconds hook_git_budget{4000};

/// The least time the request of a hook run gets, and its share of the 5 s.
constexpr milliseconds hook_request_budget{1000};

/// Events per POST; /api/events takes up to 1,000 in one request.
constexpr std::size_t max_events_per_request = 1000;

/// Posts `events` to the server in requests of up to 1,000.
caf::error post_events(const server_target& target, const event_list& events,
                       steady::time_point deadline) {
  for (std::size_t i = 0; i < events.size(); i += max_events_per_request) {
    json::array_writer batch;
    for (std::size_t j = i; j < events.size() && j < i + max_events_per_request;
         ++j)
      batch.raw(events[j]);
    http::client_request req;
    req.method = "POST";
    req.target = "/api/events";
    req.body = batch.finish();
    if (!target.token.empty())
      req.headers.push_back({"Authorization", "Bearer " + target.token});
    auto left = std::max(
        hook_request_budget,
        std::chrono::duration_cast<milliseconds>(deadline - steady::now()));
    auto r = http::fetch(target.host, target.port, req, left);
    if (!r)
      return r.error();
    if (r->status != 200 && r->status != 202)
      return make_error(errc::unreachable,
                        "the server answered " + std::to_string(r->status)
                            + ": " + trim_trailing_newlines(r->body));
  }
  return caf::error{};
}

} // namespace

} // namespace detail

int git_hook(const std::string& server_url, const std::string& config_path,
             const git_hook_args& args) {
  using namespace detail;
  const auto* hook = find_hook(args.hook);
  if (hook == nullptr) {
    std::cerr << "rouse: unknown hook \"" << args.hook
              << "\" (post-commit, post-merge, post-checkout, post-rewrite, "
                 "post-receive, reference-transaction)\n";
    return 2;
  }
  auto start = steady::now();
  std::string input;
  if (hook->reads_stdin)
    input.assign(std::istreambuf_iterator<char>{std::cin}, {});
  std::string where = !server_url.empty()    ? server_url
                      : !config_path.empty() ? "the server of " + config_path
                                             : "the server";
  auto fail = [&](const std::string& reason) {
    std::cerr << "rouse: could not report " << hook->name << " to " << where
              << ": " << reason << "\n";
    return 0;
  };
  server_target target;
  {
    // resolve_server explains itself on stderr; keep that to our one line.
    std::ostringstream why;
    auto* saved = std::cerr.rdbuf(why.rdbuf());
    bool ok = resolve_server(server_url, config_path, target);
    std::cerr.rdbuf(saved);
    if (!ok) {
      auto reason = trim_trailing_newlines(why.str());
      if (reason.starts_with("rouse: "))
        reason.erase(0, 7);
      for (auto& c : reason)
        if (c == '\n')
          c = ';';
      return fail(reason);
    }
  }
  where = server_text(target);
  git_runner git{start + hook_git_budget};
  std::string repo = args.repo_name;
  std::string git_dir;
  if (repo.empty() || hook->name == "reference-transaction") {
    auto out = git.output({"rev-parse", "--path-format=absolute",
                           "--git-common-dir", "--git-dir"});
    if (!out)
      return fail(describe(out.error()));
    auto lines = split_lines(*out);
    if (lines.size() != 2)
      return fail("unexpected answer from git rev-parse: " + *out);
    if (repo.empty())
      repo = default_repo_name(std::string{lines[0]});
    git_dir = std::string{lines[1]};
  }
  caf::expected<event_list> events = event_list{};
  if (hook->name == "post-commit")
    events = post_commit(git, repo);
  else if (hook->name == "post-merge")
    events = post_merge(git, repo, args.args);
  else if (hook->name == "post-checkout")
    events = post_checkout(git, repo, args.args);
  else if (hook->name == "post-rewrite")
    events = post_rewrite(git, repo, args.args, input);
  else if (hook->name == "post-receive")
    events = post_receive(git, repo, input);
  else
    events = reference_transaction(git, repo, git_dir, args.args, input);
  if (!events)
    return fail(describe(events.error()));
  if (events->empty())
    return 0;
  if (auto err = post_events(target, *events,
                             start + hook_git_budget + hook_request_budget))
    return fail(describe(err));
  return 0;
}

} // namespace rouse::cli
