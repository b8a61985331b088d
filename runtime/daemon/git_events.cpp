// The events of `rouse git hook` (git_events.hpp): reads commits, refs and
// reflogs with git and writes them as CloudEvents with source "git", with
// the ids a forge's report of the same push gets too. docs/events.md
// describes the events.
#include "runtime/daemon/git_events.hpp"

#include "messages/errc.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/webhook/normalize.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <system_error>

namespace rouse::cli::detail {

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

/// Commits listed in one local git.push: the newest ones, oldest first.
/// GitHub caps its list at 2048 and GitLab at 20; 100 keeps a large push's
/// event small.
constexpr int max_push_commits = 100;

/// Returns true for a full object name: 40 (SHA-1) or 64 (SHA-256)
/// lower-case hex characters.
bool is_oid(std::string_view s) {
  return (s.size() == 40 || s.size() == 64)
         && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool is_zero_oid(std::string_view oid) {
  return !oid.empty() && oid.find_first_not_of('0') == std::string_view::npos;
}

std::string now_rfc3339() {
  return json::format_rfc3339(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

struct commit_info {
  std::string sha;
  std::vector<std::string> parents;
  std::string author_name, author_email, committed_at, message;
};

/// The rev-list format parse_commit() reads; %x00 ends each record.
constexpr std::string_view commit_format =
    "--format=%H%n%P%n%an%n%ae%n%cI%n%B%x00";

/// Parses one record of `commit_format` (git removes newlines from names and
/// e-mails, so the first five lines are fields and the rest the message).
std::optional<commit_info> parse_commit(std::string_view record) {
  while (!record.empty() && record.front() == '\n')
    record.remove_prefix(1);
  commit_info c;
  std::array<std::string*, 5> fields{&c.sha, nullptr, &c.author_name,
                                     &c.author_email, &c.committed_at};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    auto nl = record.find('\n');
    if (nl == std::string_view::npos)
      return std::nullopt;
    auto line = record.substr(0, nl);
    if (fields[i] != nullptr)
      *fields[i] = std::string{line};
    else
      for (auto p : split_words(line))
        c.parents.emplace_back(p);
    record.remove_prefix(nl + 1);
  }
  if (c.sha.empty())
    return std::nullopt;
  c.message = trim_trailing_newlines(record);
  return c;
}

std::vector<commit_info> parse_commits(std::string_view out) {
  std::vector<commit_info> commits;
  while (!out.empty()) {
    auto end = out.find('\0');
    if (auto c = parse_commit(out.substr(0, end)))
      commits.push_back(std::move(*c));
    if (end == std::string_view::npos)
      break;
    out.remove_prefix(end + 1);
  }
  return commits;
}

std::string author_json(const commit_info& c) {
  json::object_writer w;
  w.field("name", c.author_name).field("email", c.author_email);
  return w.finish();
}

/// Returns the branch HEAD is on ("refs/heads/main"), "" when detached.
caf::expected<std::string> head_ref(git_runner& git) {
  auto r = git.run({"symbolic-ref", "-q", "HEAD"});
  if (!r)
    return r.error();
  return r->exit_code == 0 ? trim_trailing_newlines(r->stdout_text)
                           : std::string{};
}

/// Returns one CloudEvent (structured JSON) with source "git".
std::string cloud_event(std::string_view type, const std::string& id,
                        const std::string& repo, const std::string& data) {
  json::object_writer w;
  w.field("specversion", "1.0")
      .field("id", id)
      .field("source", "git")
      .field("type", type)
      .field("subject", repo)
      .field("time", now_rfc3339())
      .field("datacontenttype", "application/json")
      .raw("data", data);
  return w.finish();
}

/// Who pushed: gitolite's user, else the HTTP user of git-http-backend, else
/// the account receive-pack runs as.
std::string pusher_name() {
  for (const char* name : {"GL_USER", "REMOTE_USER", "USER", "LOGNAME"})
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0')
      return v;
  return {};
}

/// Returns the `git.push` CloudEvent of one ref update, in the shape forges'
/// pushes are normalized to, with the id a forge's report of it gets too.
caf::expected<std::string> push_event(git_runner& git, const std::string& repo,
                                      const std::string& ref,
                                      const std::string& before,
                                      const std::string& after) {
  json::array_writer commits;
  if (!is_zero_oid(after)) {
    std::vector<std::string> args{"rev-list",
                                  "--reverse",
                                  "--max-count="
                                      + std::to_string(max_push_commits),
                                  "--no-commit-header",
                                  std::string{commit_format},
                                  after};
    // A new ref brings the commits no other ref has.
    if (is_zero_oid(before))
      args.insert(args.end(), {"--not", "--exclude=" + ref, "--glob=refs/*"});
    else
      args.push_back("^" + before);
    auto out = git.run(std::move(args));
    if (!out)
      return out.error();
    // A rev-list that fails (e.g. `before` was pruned) lists no commits.
    if (out->exit_code == 0)
      for (const auto& c : parse_commits(out->stdout_text)) {
        json::object_writer w;
        w.field("id", c.sha)
            .field("message", c.message)
            .raw("author", author_json(c))
            .field("url", "");
        commits.raw(w.finish());
      }
  }
  json::object_writer data;
  data.field("repo", repo)
      .field("ref", ref)
      .field("before", before)
      .field("after", after)
      .raw("commits", commits.finish())
      .field("pusher", pusher_name())
      .field("provider", "local");
  return cloud_event("git.push",
                     webhook::push_event_id(repo, ref, before, after), repo,
                     data.finish());
}

/// One "<old> <new> <ref>" line of post-receive or reference-transaction.
struct ref_update {
  std::string before, after, ref;
};

/// Returns the updates of refs under refs/ (not HEAD and other pseudo-refs);
/// lines that are not "<oid> <oid> refs/..." are skipped, so nothing else
/// reaches a git command line.
std::vector<ref_update> parse_ref_updates(std::string_view input) {
  std::vector<ref_update> out;
  for (auto line : split_lines(input)) {
    auto w = split_words(line);
    if (w.size() == 3 && is_oid(w[0]) && is_oid(w[1])
        && w[2].starts_with("refs/"))
      out.push_back({std::string{w[0]}, std::string{w[1]}, std::string{w[2]}});
  }
  return out;
}

/// Returns the object name `rev` resolves to, "" if it does not.
caf::expected<std::string> resolve(git_runner& git, const std::string& rev) {
  auto r = git.run({"rev-parse", "-q", "--verify", rev + "^{commit}"});
  if (!r)
    return r.error();
  return r->exit_code == 0 ? trim_trailing_newlines(r->stdout_text)
                           : std::string{};
}

/// Returns the current object name of each of `refs` that exists.
caf::expected<std::map<std::string, std::string>>
current_values(git_runner& git, const std::vector<ref_update>& updates) {
  std::vector<std::string> args{"for-each-ref",
                                "--format=%(objectname) %(refname)"};
  for (const auto& u : updates)
    args.push_back(u.ref);
  auto out = git.output(std::move(args));
  if (!out)
    return out.error();
  std::map<std::string, std::string> values;
  for (auto line : split_lines(*out)) {
    auto w = split_words(line);
    if (w.size() == 2)
      values[std::string{w[1]}] = std::string{w[0]};
  }
  return values;
}

} // namespace

caf::expected<event_list> post_commit(git_runner& git,
                                      const std::string& repo) {
  auto out = git.output({"rev-list", "--max-count=1", "--no-commit-header",
                         std::string{commit_format}, "HEAD"});
  if (!out)
    return out.error();
  auto commits = parse_commits(*out);
  if (commits.empty())
    return make_error(errc::invalid_input, "git rev-list gave no commit");
  const auto& c = commits.front();
  auto ref = head_ref(git);
  if (!ref)
    return ref.error();
  json::array_writer parents;
  for (const auto& p : c.parents)
    parents.value(p);
  json::object_writer data;
  data.field("repo", repo)
      .field("ref", *ref)
      .field("sha", c.sha)
      .raw("parents", parents.finish())
      .field("message", c.message)
      .raw("author", author_json(c))
      .field("committed_at", c.committed_at);
  return event_list{cloud_event(
      "git.commit", webhook::hashed_event_id("commit", {repo, c.sha}), repo,
      data.finish())};
}

caf::expected<event_list> post_merge(git_runner& git, const std::string& repo,
                                     const std::vector<std::string>& args) {
  bool squash = !args.empty() && args[0] == "1";
  auto sha = resolve(git, "HEAD");
  if (!sha)
    return sha.error();
  // git merge (and pull) leave the commit they started from in ORIG_HEAD.
  auto before = resolve(git, "ORIG_HEAD");
  if (!before)
    return before.error();
  auto ref = head_ref(git);
  if (!ref)
    return ref.error();
  json::object_writer data;
  data.field("repo", repo)
      .field("ref", *ref)
      .field("before", *before)
      .field("sha", *sha)
      .field("squash", squash);
  auto id = webhook::hashed_event_id(
      "merge", {repo, *ref, *before, *sha, squash ? "squash" : "merge"});
  return event_list{cloud_event("git.merge", id, repo, data.finish())};
}

caf::expected<event_list> post_checkout(git_runner& git,
                                        const std::string& repo,
                                        const std::vector<std::string>& args) {
  if (args.size() < 3)
    return make_error(errc::invalid_input,
                      "post-checkout needs 3 arguments from git");
  bool branch = args[2] == "1";
  auto ref = head_ref(git);
  if (!ref)
    return ref.error();
  // The same checkout may happen again later; HEAD's newest reflog entry
  // (time and message) tells the occasions apart but stays the same if this
  // hook runs twice for one.
  std::string occasion;
  if (branch) {
    auto r = git.run({"-c", "log.showSignature=false", "log", "-g", "-1",
                      "--date=unix", "--format=%gd %gs", "HEAD"});
    if (!r)
      return r.error();
    if (r->exit_code == 0)
      occasion = trim_trailing_newlines(r->stdout_text);
  }
  if (occasion.empty())
    occasion =
        std::to_string(std::chrono::duration_cast<milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
  json::object_writer data;
  data.field("repo", repo)
      .field("before", args[0])
      .field("after", args[1])
      .field("ref", *ref)
      .field("branch_checkout", branch);
  auto id = webhook::hashed_event_id(
      "checkout", {repo, args[0], args[1], args[2], occasion});
  return event_list{cloud_event("git.checkout", id, repo, data.finish())};
}

caf::expected<event_list> post_rewrite(git_runner& git, const std::string& repo,
                                       const std::vector<std::string>& args,
                                       std::string_view input) {
  std::string kind = args.empty() ? std::string{} : args[0];
  auto ref = head_ref(git);
  if (!ref)
    return ref.error();
  json::array_writer rewritten;
  std::string pairs;
  for (auto line : split_lines(input)) {
    auto w = split_words(line);
    if (w.size() < 2)
      continue;
    json::object_writer pair;
    pair.field("before", w[0]).field("after", w[1]);
    rewritten.raw(pair.finish());
    pairs += std::string{w[0]} + ":" + std::string{w[1]} + ",";
  }
  json::object_writer data;
  data.field("repo", repo)
      .field("ref", *ref)
      .field("kind", kind)
      .raw("rewritten", rewritten.finish());
  auto id = webhook::hashed_event_id("rewrite", {repo, kind, pairs});
  return event_list{cloud_event("git.rewrite", id, repo, data.finish())};
}

caf::expected<event_list> post_receive(git_runner& git, const std::string& repo,
                                       std::string_view input) {
  event_list events;
  for (const auto& u : parse_ref_updates(input)) {
    auto ev = push_event(git, repo, u.ref, u.before, u.after);
    if (!ev)
      return ev.error();
    events.push_back(std::move(*ev));
  }
  return events;
}

caf::expected<event_list> reference_transaction(
    git_runner& git, const std::string& repo, const std::string& git_dir,
    const std::vector<std::string>& args, std::string_view input) {
  std::string state = args.empty() ? std::string{} : args[0];
  auto updates = parse_ref_updates(input);
  if (updates.empty())
    return event_list{};
  auto record =
      fs::path{git_dir} / webhook::hashed_event_id("rouse-reftx", {input});
  std::error_code ec;
  if (state == "prepared") {
    auto values = current_values(git, updates);
    if (!values)
      return values.error();
    std::ofstream out{record, std::ios::binary | std::ios::trunc};
    for (const auto& [ref, value] : *values)
      out << value << " " << ref << "\n";
    out.close();
    if (!out)
      return make_error(errc::storage_failure,
                        "cannot write " + record.string());
    return event_list{};
  }
  if (state != "committed") {
    fs::remove(record, ec);
    return event_list{};
  }
  std::ifstream in{record, std::ios::binary};
  if (!in) // no "prepared" run recorded the old values: report nothing
    return event_list{};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  in.close();
  fs::remove(record, ec);
  std::map<std::string, std::string> old_values;
  for (auto line : split_lines(text)) {
    auto w = split_words(line);
    if (w.size() == 2)
      old_values[std::string{w[1]}] = std::string{w[0]};
  }
  auto now = current_values(git, updates);
  if (!now)
    return now.error();
  event_list events;
  for (const auto& u : updates) {
    std::string zero(u.after.size(), '0');
    auto value_of = [&zero](const std::map<std::string, std::string>& m,
                            const std::string& ref) {
      auto i = m.find(ref);
      return i == m.end() ? zero : i->second;
    };
    auto before = value_of(old_values, u.ref);
    if (value_of(*now, u.ref) != u.after || before == u.after)
      continue;
    auto ev = push_event(git, repo, u.ref, before, u.after);
    if (!ev)
      return ev.error();
    events.push_back(std::move(*ev));
  }
  return events;
}

} // namespace rouse::cli::detail
