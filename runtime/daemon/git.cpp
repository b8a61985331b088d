// `rouse git`: installs git hooks that report local activity to a rouse server
// (install-hooks), and is what those hooks run (hook): it collects facts with
// git commands (argv arrays, never a shell) and posts them as CloudEvents with
// source "git". docs/git.md describes the commands, docs/events.md the events.
#include "runtime/daemon/commands.hpp"

#include "runtime/exec/process_runner.hpp"
#include "runtime/http/client.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/webhook/normalize.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>
#include <system_error>

namespace rouse::cli {

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

/// The second line of every hook rouse writes; how install and uninstall tell
/// rouse's hooks from others.
constexpr std::string_view install_marker = "# installed by rouse";

/// What a hook that was there before rouse's is renamed to.
constexpr std::string_view chained_suffix = ".rouse-chained";

/// How long the git commands of one hook run may take together. With the
/// request's share below, a hook holds git up for at most about 5 s, even
/// when the server is down or slow.
constexpr milliseconds hook_git_budget{4000};

/// The least time the request of a hook run gets, and its share of the 5 s.
constexpr milliseconds hook_request_budget{1000};

/// Commands of install-hooks are bounded too, more generously.
constexpr milliseconds install_budget{30000};

/// Commits listed in one local git.push: the newest ones, oldest first.
/// GitHub caps its list at 2048 and GitLab at 20; 100 keeps a large push's
/// event small.
constexpr int max_push_commits = 100;

/// Events per POST; /api/events takes up to 1,000 in one request.
constexpr std::size_t max_events_per_request = 1000;

/// Bytes of git output kept per command; a push's commit list is the largest.
constexpr std::size_t max_git_output_bytes = 16 * 1024 * 1024;

struct hook_info {
  std::string_view name;
  /// True if git writes lines to the hook's stdin.
  bool reads_stdin;
  /// True for hooks installed in bare repositories, false for work trees.
  bool bare;
};

constexpr std::array<hook_info, 6> known_hooks{{
    {"post-commit", false, false},
    {"post-merge", false, false},
    {"post-checkout", false, false},
    {"post-rewrite", true, false},
    {"post-receive", true, true},
    {"reference-transaction", true, true},
}};

const hook_info* find_hook(std::string_view name) {
  for (const auto& h : known_hooks)
    if (h.name == name)
      return &h;
  return nullptr;
}

/// Returns true for a full object name: 40 (SHA-1) or 64 (SHA-256)
/// lower-case hex characters.
bool is_oid(std::string_view s) {
  return (s.size() == 40 || s.size() == 64)
         && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool is_zero_oid(std::string_view oid) {
  return !oid.empty() && oid.find_first_not_of('0') == std::string_view::npos;
}

/// Returns the lines of `text` without their '\n'; no empty last line.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos)
      break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

/// Returns the blank-separated words of `line`.
std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  while (true) {
    auto start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos)
      return words;
    line.remove_prefix(start);
    auto end = line.find_first_of(" \t");
    words.push_back(line.substr(0, end));
    if (end == std::string_view::npos)
      return words;
    line.remove_prefix(end);
  }
}

std::string trim_trailing_newlines(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string{s};
}

/// Returns `s` as one single-quoted shell word.
std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string now_rfc3339() {
  return json::format_rfc3339(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

/// Runs git commands under one deadline shared by all of them.
class git_runner {
public:
  explicit git_runner(steady::time_point deadline) : deadline_(deadline) {}

  /// Returns how git exited, with its output; an error if git could not run
  /// or the deadline passed first.
  caf::expected<exec::process_result> run(std::vector<std::string> args) {
    auto what = subcommand(args);
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline_ - steady::now());
    if (left <= milliseconds{0})
      return make_error(errc::spawn_failed, "out of time before git " + what);
    exec::process_spec spec;
    spec.argv.push_back("git");
    for (auto& a : args)
      spec.argv.push_back(std::move(a));
    // Reads only; never take optional locks a concurrent git command needs.
    spec.env.push_back("GIT_OPTIONAL_LOCKS=0");
    spec.timeout = left;
    spec.kill_grace = milliseconds{100};
    spec.max_output_bytes = max_git_output_bytes;
    auto done = std::make_shared<std::promise<exec::process_result>>();
    auto result = done->get_future();
    runner_.start(std::move(spec), [done](exec::process_result r) {
      done->set_value(std::move(r));
    });
    auto r = result.get();
    if (r.spawn_failed)
      return make_error(errc::spawn_failed, "cannot run git: " + r.error);
    if (r.timed_out)
      return make_error(errc::spawn_failed, "git " + what + " timed out");
    return r;
  }

  /// Returns git's stdout; a non-zero exit is an error with git's message.
  caf::expected<std::string> output(std::vector<std::string> args) {
    auto what = subcommand(args);
    auto r = run(std::move(args));
    if (!r)
      return r.error();
    if (r->exit_code != 0) {
      auto message = trim_trailing_newlines(r->stderr_text);
      if (auto nl = message.find('\n'); nl != std::string::npos)
        message.resize(nl);
      return make_error(errc::spawn_failed,
                        "git " + what + " exited with "
                            + std::to_string(r->exit_code)
                            + (message.empty() ? "" : ": " + message));
    }
    return std::move(r->stdout_text);
  }

private:
  /// Returns the git command `args` runs, past "-C DIR" and "-c NAME=VALUE".
  static std::string subcommand(const std::vector<std::string>& args) {
    std::size_t i = 0;
    while (i + 1 < args.size() && (args[i] == "-C" || args[i] == "-c"))
      i += 2;
    return i < args.size() ? args[i] : std::string{};
  }

  exec::process_runner runner_{[] {
    exec::runner_options o;
    o.max_processes = 4;
    return o;
  }()};
  steady::time_point deadline_;
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
caf::expected<repo_facts> inspect_repo(git_runner& git,
                                       const std::string& dir) {
  std::vector<std::string> args;
  if (!dir.empty())
    args = {"-C", dir};
  for (const char* a :
       {"rev-parse", "--is-bare-repository", "--path-format=absolute",
        "--git-common-dir", "--git-path", "hooks"})
    args.emplace_back(a);
  auto out = git.output(std::move(args));
  if (!out)
    return out.error();
  auto lines = split_lines(*out);
  if (lines.size() != 3)
    return make_error(errc::invalid_input,
                      "unexpected answer from git rev-parse: " + *out);
  return repo_facts{lines[0] == "true", std::string{lines[1]},
                    std::string{lines[2]}};
}

/// Returns the repository's default name: its directory's name without
/// ".git" (for a work tree, the directory holding .git).
std::string default_repo_name(const std::string& common_dir) {
  fs::path p = fs::path{common_dir}.lexically_normal();
  if (!p.has_filename())
    p = p.parent_path();
  auto name = p.filename().string();
  if (name == ".git")
    name = p.parent_path().filename().string();
  else if (name.size() > 4 && name.ends_with(".git"))
    name.resize(name.size() - 4);
  return name.empty() ? std::string{"repo"} : name;
}

// ----- install-hooks -----

/// Returns true if the file at `path` (followed if a link) is one of ours.
bool is_rouse_hook(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return false;
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head.find(install_marker) != std::string::npos;
}

bool present(const fs::path& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec;
}

/// Returns the text of rouse's `hook`, which runs the chained hook first (if
/// any) and then `rouse_lines` (from rouse_call()).
std::string hook_script(const hook_info& hook, const std::string& rouse_lines) {
  std::string name{hook.name};
  std::string chained = "\"$0" + std::string{chained_suffix} + "\"";
  std::ostringstream s;
  s << "#!/bin/sh\n"
    << install_marker
    << ": reports this hook to a rouse server (docs/git.md).\n"
       "# Undo with `rouse git install-hooks --uninstall REPO`. A hook that "
       "was here\n# before is kept as "
    << name << chained_suffix << " and runs first, with the same\n# arguments"
    << (hook.reads_stdin ? " and input" : "")
    << "; its exit status is this hook's.\n";
  if (hook.reads_stdin)
    s << "rouse_in=$(cat; echo x)\nrouse_in=${rouse_in%x}\n";
  s << "rouse_status=0\n"
    << "if [ -x " << chained << " ]; then\n  "
    << (hook.reads_stdin ? "printf '%s' \"$rouse_in\" | " : "") << chained
    << " \"$@\"\n  rouse_status=$?\nfi\n";
  s << rouse_lines << "\nexit $rouse_status\n";
  return s.str();
}

/// Returns the lines that run rouse (or say why they cannot).
std::string rouse_call(const hook_info& hook, const std::string& rouse_path,
                       const std::vector<std::string>& options) {
  std::string cmd =
      shell_quote(rouse_path) + " git hook " + std::string{hook.name};
  for (const auto& o : options)
    cmd += " " + shell_quote(o);
  cmd += " -- \"$@\"";
  std::string out = "if [ -x " + shell_quote(rouse_path) + " ]; then\n  ";
  if (hook.reads_stdin)
    out += "printf '%s' \"$rouse_in\" | " + cmd + "\n";
  else
    out += cmd + " </dev/null\n";
  out += "else\n  printf 'rouse: could not report %s: %s is missing (install "
         "the hooks again)\\n' "
         + std::string{hook.name} + " " + shell_quote(rouse_path) + " >&2\nfi";
  return out;
}

/// Writes `text` to `path` atomically (a temp file renamed over it), mode
/// 0755.
bool write_hook(const fs::path& path, const std::string& text,
                std::string& error) {
  auto tmp = path;
  tmp += ".rouse-tmp";
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    out << text;
    out.close();
    if (!out) {
      error = "cannot write " + tmp.string();
      return false;
    }
  }
  std::error_code ec;
  fs::permissions(tmp,
                  fs::perms::owner_all | fs::perms::group_read
                      | fs::perms::group_exec | fs::perms::others_read
                      | fs::perms::others_exec,
                  ec);
  if (!ec)
    fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    error = "cannot install " + path.string() + ": " + ec.message();
    return false;
  }
  return true;
}

int uninstall_hooks(const fs::path& dir) {
  int found = 0;
  int status = 0;
  for (const auto& hook : known_hooks) {
    auto path = dir / std::string{hook.name};
    auto chained = path;
    chained += chained_suffix;
    bool ours = present(path) && is_rouse_hook(path);
    if (present(path) && !ours) {
      if (present(chained))
        std::cout << hook.name << ": left alone (not installed by rouse; "
                  << chained.filename().string() << " is still there)\n";
      continue;
    }
    std::error_code ec;
    if (ours) {
      ++found;
      fs::remove(path, ec);
    }
    if (!ec && present(chained)) {
      ++found;
      fs::rename(chained, path, ec);
      if (!ec)
        std::cout << hook.name << ": removed, the previous hook is back\n";
    } else if (!ec && ours) {
      std::cout << hook.name << ": removed\n";
    }
    if (ec) {
      std::cerr << "rouse: " << hook.name << ": " << ec.message() << "\n";
      status = 1;
    }
  }
  if (found == 0)
    std::cout << "no rouse hooks in " << dir.string() << "\n";
  return status;
}

// ----- the hook side: events -----

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

using event_list = std::vector<std::string>;

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

/// Returns the object name `rev` resolves to, "" if it does not.
caf::expected<std::string> resolve(git_runner& git, const std::string& rev) {
  auto r = git.run({"rev-parse", "-q", "--verify", rev + "^{commit}"});
  if (!r)
    return r.error();
  return r->exit_code == 0 ? trim_trailing_newlines(r->stdout_text)
                           : std::string{};
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

std::string server_text(const server_target& t) {
  auto host =
      t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  return "http://" + host + ":" + std::to_string(t.port);
}

} // namespace

int git_install_hooks(const std::string& server_url,
                      const std::string& config_path,
                      const git_install_args& args) {
  if (args.repo_name.find_first_of("\n\r") != std::string::npos) {
    std::cerr << "rouse: --repo-name must be one line\n";
    return 2;
  }
  git_runner git{steady::now() + install_budget};
  auto facts = inspect_repo(git, args.repo_path);
  if (!facts) {
    std::cerr << "rouse: " << args.repo_path << " is not a git repository ("
              << describe(facts.error()) << ")\n";
    return 2;
  }
  fs::path dir{facts->hooks_dir};
  if (args.uninstall)
    return uninstall_hooks(dir);

  // The hooks name the server as given; the token is read when they run.
  server_target target;
  if (!resolve_server(server_url, config_path, target))
    return 2;
  std::vector<std::string> options;
  if (!config_path.empty())
    options.insert(
        options.end(),
        {"-c", fs::absolute(config_path).lexically_normal().string()});
  if (!server_url.empty() || config_path.empty())
    options.insert(options.end(), {"--server", server_text(target)});
  if (!args.repo_name.empty())
    options.insert(options.end(), {"--repo-name", args.repo_name});
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    std::cerr << "rouse: cannot find the rouse binary: " << ec.message()
              << "\n";
    return 1;
  }

  // Check every hook before changing any.
  std::vector<const hook_info*> selected;
  for (const auto& hook : known_hooks)
    if (hook.bare == facts->bare)
      selected.push_back(&hook);
  bool conflict = false;
  for (const auto* hook : selected) {
    auto path = dir / std::string{hook->name};
    auto chained = path;
    chained += chained_suffix;
    if (present(path) && !is_rouse_hook(path) && present(chained)) {
      std::cerr << "rouse: " << path.string() << " and " << chained.string()
                << " both exist and neither is rouse's hook; merge or remove "
                   "one of them\n";
      conflict = true;
    }
  }
  if (conflict)
    return 1;
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "rouse: cannot create " << dir.string() << ": " << ec.message()
              << "\n";
    return 1;
  }
  for (const auto* hook : selected) {
    auto path = dir / std::string{hook->name};
    auto chained = path;
    chained += chained_suffix;
    const char* what = "installed";
    if (present(path)) {
      if (is_rouse_hook(path)) {
        what = "updated";
      } else {
        fs::rename(path, chained, ec);
        if (ec) {
          std::cerr << "rouse: cannot rename " << path.string() << ": "
                    << ec.message() << "\n";
          return 1;
        }
        what = "installed; the hook that was there runs first";
      }
    }
    std::string error;
    if (!write_hook(
            path, hook_script(*hook, rouse_call(*hook, self.string(), options)),
            error)) {
      std::cerr << "rouse: " << error << "\n";
      return 1;
    }
    std::cout << hook->name << ": " << what << "\n";
  }
  std::cout << "hooks in " << dir.string() << " report to "
            << server_text(target) << " as repository "
            << (args.repo_name.empty() ? default_repo_name(facts->common_dir)
                                       : args.repo_name)
            << "\n";
  return 0;
}

int git_hook(const std::string& server_url, const std::string& config_path,
             const git_hook_args& args) {
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
