// `rouse git`'s shared part (git.hpp): the table of hooks, the git runner with
// its deadline, what git says about a repository, and text helpers.
#include "runtime/daemon/git.hpp"

#include "messages/errc.hpp"

#include <cstddef>
#include <filesystem>
#include <future>
#include <memory>
#include <utility>

namespace rouse::cli::detail {

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

/// Bytes of git output kept per command; a push's commit list is the largest.
constexpr std::size_t max_git_output_bytes = 16 * 1024 * 1024;

} // namespace

const hook_info* find_hook(std::string_view name) {
  for (const auto& h : known_hooks)
    if (h.name == name)
      return &h;
  return nullptr;
}

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

caf::expected<exec::process_result>
git_runner::run(std::vector<std::string> args) {
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

caf::expected<std::string> git_runner::output(std::vector<std::string> args) {
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

std::string git_runner::subcommand(const std::vector<std::string>& args) {
  std::size_t i = 0;
  while (i + 1 < args.size() && (args[i] == "-C" || args[i] == "-c"))
    i += 2;
  return i < args.size() ? args[i] : std::string{};
}

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

std::string server_text(const server_target& t) {
  auto host =
      t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  return "http://" + host + ":" + std::to_string(t.port);
}

} // namespace rouse::cli::detail
