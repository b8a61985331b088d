// Tests the process runner with real processes (/bin/sh, cat, env, printenv,
// sleep, setsid): exit codes, environment, stdin, output caps, cwd, spawn
// failures, timeouts with process groups, cancellation, concurrency, overload,
// shutdown, the child registry and kill_leftovers().
#include "runtime/exec/process_runner.hpp"

#include "runtime/exec/registry.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rouse::errc;
using rouse::exec::kill_leftovers;
using rouse::exec::process_result;
using rouse::exec::process_runner;
using rouse::exec::process_spec;
using rouse::exec::runner_options;

namespace {

/// How long a test waits for something that should take milliseconds.
constexpr auto wait_bound = std::chrono::seconds{20};

process_spec command(std::vector<std::string> argv) {
  process_spec spec;
  spec.argv = std::move(argv);
  return spec;
}

process_spec shell(const std::string& script) {
  return command({"/bin/sh", "-c", script});
}

/// Collects results from completions, which run on the runner thread.
struct collector {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<process_result> results;

  process_runner::completion callback() {
    return [this](process_result r) {
      std::lock_guard guard{mtx};
      results.push_back(std::move(r));
      cv.notify_all();
    };
  }

  /// Returns true once `n` results arrived, false after `wait_bound`.
  bool wait_for(std::size_t n) {
    std::unique_lock guard{mtx};
    return cv.wait_for(guard, wait_bound, [&] { return results.size() >= n; });
  }
};

/// Starts `spec` and returns the future of its result.
std::future<process_result> start_in_background(process_runner& runner,
                                                process_spec spec) {
  // Shared with the completion, which may outlive a failed wait.
  auto promise = std::make_shared<std::promise<process_result>>();
  auto result = promise->get_future();
  runner.start(std::move(spec), [promise](process_result r) {
    promise->set_value(std::move(r));
  });
  return result;
}

/// Returns the result of a run started in the background; fails the test
/// after `wait_bound`.
process_result await_result(std::future<process_result>& result) {
  REQUIRE(result.wait_for(wait_bound) == std::future_status::ready);
  return result.get();
}

/// Runs `spec` and returns its result; fails the test after `wait_bound`.
process_result run(process_runner& runner, process_spec spec) {
  auto result = start_in_background(runner, std::move(spec));
  return await_result(result);
}

/// Returns true if `pid` exists and is not a zombie.
bool is_alive(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return false;
  auto name_end = line.rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= line.size())
    return false;
  char state = line[name_end + 2];
  return state != 'Z' && state != 'X';
}

/// Returns true once `pid` is gone (or a zombie), false after `wait_bound`.
bool wait_until_dead(int pid) {
  auto until = std::chrono::steady_clock::now() + wait_bound;
  while (is_alive(pid)) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

/// Returns a fresh directory under the system's temp directory.
std::filesystem::path make_temp_dir() {
  auto pattern =
      (std::filesystem::temp_directory_path() / "rouse-exec-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return std::filesystem::canonical(pattern);
}

/// Returns true once `pred()` holds, false after `wait_bound`.
template <class Predicate>
bool wait_until(Predicate pred) {
  auto until = std::chrono::steady_clock::now() + wait_bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

/// Returns true once `path` exists, false after `wait_bound`.
bool wait_for_file(const std::filesystem::path& path) {
  return wait_until([&] { return std::filesystem::exists(path); });
}

/// Returns the names in a registry directory, without its lock file.
std::vector<std::string> registry_files(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator{dir})
    if (entry.path().filename() != ".lock")
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// Starts `sleep 30` the way a SIGKILLed rouse leaves a handler behind: in
/// a process group of its own, and no child of this process (its parent
/// exits at once, so it is reparented). Returns its pid.
int spawn_orphan(process_runner& runner) {
  auto r = run(runner,
               shell("setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $!"));
  REQUIRE(r.exit_code == 0);
  REQUIRE_FALSE(r.stdout_text.empty());
  auto pid = std::stoi(r.stdout_text);
  // setsid(1) calls setsid() before it execs sleep: from then on the pid is
  // also the id of its process group.
  auto comm = "/proc/" + std::to_string(pid) + "/comm";
  REQUIRE(wait_until([&] {
    std::ifstream in{comm};
    std::string name;
    return std::getline(in, name) && name == "sleep";
  }));
  return pid;
}

/// Kills a process that is no child of ours and waits until it is gone.
void kill_orphan(int pid) {
  ::kill(pid, SIGKILL);
  CHECK(wait_until_dead(pid));
}

/// Writes the registry file of `pid` as the runner would, with `boot_id` and
/// `start_time` replaced by the given ones if set.
void record_in_registry(const std::filesystem::path& dir, int pid,
                        const std::string& tag,
                        std::optional<std::string> boot_id = std::nullopt,
                        std::optional<uint64_t> start_time = std::nullopt) {
  rouse::exec::detail::registry_entry entry;
  if (boot_id) {
    entry.boot_id = *boot_id;
  } else {
    auto current = rouse::exec::detail::read_boot_id();
    REQUIRE(current);
    entry.boot_id = *current;
  }
  auto stat = rouse::exec::detail::read_proc_stat(pid);
  REQUIRE(stat);
  entry.start_time = start_time ? *start_time : stat->start_time;
  entry.tag = tag;
  auto err = rouse::exec::detail::write_registry_file(dir.string(), pid, entry);
  REQUIRE_FALSE(err);
}

/// Runs kill_leftovers over `dir`: it must kill nothing, remove every file and
/// leave `pid` alive.
void check_kills_none(const std::filesystem::path& dir, int pid) {
  auto killed = kill_leftovers(dir.string());
  REQUIRE(killed);
  CHECK(killed->empty());
  CHECK(registry_files(dir).empty());
  CHECK(is_alive(pid));
}

} // namespace

TEST_CASE("exec: reports the exit code", "[runtime][exec]") {
  process_runner runner;
  SECTION("zero") {
    auto r = run(runner, shell("exit 0"));
    CHECK(r.exit_code == 0);
    CHECK(r.term_signal == 0);
    CHECK_FALSE(r.spawn_failed);
    CHECK_FALSE(r.timed_out);
    CHECK(r.error.empty());
    CHECK_FALSE(r.cause);
    CHECK(r.pid > 0);
    CHECK(r.started_ns > 0);
    CHECK(r.finished_ns >= r.started_ns);
  }
  SECTION("non-zero") {
    auto r = run(runner, shell("exit 7"));
    CHECK(r.exit_code == 7);
    CHECK(r.term_signal == 0);
    CHECK(r.error.empty());
  }
  CHECK(runner.running() == 0);
}

TEST_CASE("exec: waits for the exit after the child closes its output",
          "[runtime][exec]") {
  process_runner runner;
  auto r = run(runner, shell("echo early; exec >&- 2>&-; sleep 0.2; exit 4"));
  CHECK(r.exit_code == 4);
  CHECK(r.stdout_text == "early\n");
}

TEST_CASE("exec: accepts the largest timeout and kill_grace",
          "[runtime][exec]") {
  process_runner runner;
  auto spec = shell("exit 0");
  spec.timeout = std::chrono::milliseconds::max();
  spec.kill_grace = std::chrono::milliseconds::max();
  auto r = run(runner, spec);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(r.timed_out);
}

TEST_CASE("exec: calls completions on the runner thread", "[runtime][exec]") {
  process_runner runner;
  auto promise = std::make_shared<std::promise<std::thread::id>>();
  auto id = promise->get_future();
  runner.start(shell("true"), [promise](process_result) {
    promise->set_value(std::this_thread::get_id());
  });
  REQUIRE(id.wait_for(wait_bound) == std::future_status::ready);
  CHECK(id.get() != std::this_thread::get_id());
}

TEST_CASE("exec: accepts start from inside a completion", "[runtime][exec]") {
  process_runner runner;
  auto promise = std::make_shared<std::promise<std::pair<int, int>>>();
  auto codes = promise->get_future();
  runner.start(shell("exit 1"), [&runner, promise](process_result first) {
    runner.start(shell("exit 2"), [promise, first](process_result second) {
      promise->set_value({first.exit_code, second.exit_code});
    });
  });
  REQUIRE(codes.wait_for(wait_bound) == std::future_status::ready);
  CHECK(codes.get() == std::pair{1, 2});
}

TEST_CASE("exec: passes env entries and lets them override inherited ones",
          "[runtime][exec]") {
  // Set before the runner's thread exists: setenv races with readers.
  ::setenv("ROUSE_EXEC_TEST_INHERITED", "inherited", 1);
  ::setenv("ROUSE_EXEC_TEST_OVERRIDDEN", "old", 1);
  process_runner runner;
  auto spec = command({"printenv", "ROUSE_EXEC_TEST_INHERITED",
                       "ROUSE_EXEC_TEST_OVERRIDDEN", "ROUSE_EXEC_TEST_NEW"});
  spec.env = {"ROUSE_EXEC_TEST_OVERRIDDEN=first",
              "ROUSE_EXEC_TEST_NEW=new value",
              "ROUSE_EXEC_TEST_OVERRIDDEN=new"};
  auto r = run(runner, spec);
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_text == "inherited\nnew\nnew value\n");
}

TEST_CASE("exec: gives the child only env entries without inherit_env",
          "[runtime][exec]") {
  process_runner runner;
  auto spec = command({"env"});
  spec.env = {"ONLY=1", "ALSO=two words"};
  spec.inherit_env = false;
  auto r = run(runner, spec);
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_text == "ONLY=1\nALSO=two words\n");
}

TEST_CASE("exec: rejects an env entry without a key", "[runtime][exec]") {
  process_runner runner;
  auto spec = command({"env"});
  SECTION("no '='") {
    spec.env = {"NOEQUALS"};
  }
  SECTION("empty key") {
    spec.env = {"=value"};
  }
  auto r = run(runner, spec);
  CHECK(r.spawn_failed);
  CHECK(r.pid == -1);
  CHECK(rouse::is(r.cause, errc::spawn_failed));
  CHECK_THAT(r.error, Catch::Contains("invalid env entry"));
}

TEST_CASE("exec: delivers stdin data", "[runtime][exec]") {
  process_runner runner;
  std::string data;
  for (std::size_t i = 0; data.size() < 200 * 1024; ++i)
    data += "line " + std::to_string(i) + "\n";
  auto spec = command({"cat"});
  spec.stdin_data = data;
  SECTION("under the cap") {
    spec.max_output_bytes = 256 * 1024;
    auto r = run(runner, spec);
    CHECK(r.exit_code == 0);
    CHECK(r.stdout_text == data);
    CHECK_FALSE(r.stdout_truncated);
  }
  SECTION("over the cap") {
    spec.max_output_bytes = 1000;
    auto r = run(runner, spec);
    CHECK(r.exit_code == 0);
    CHECK(r.stdout_text == data.substr(0, 1000));
    CHECK(r.stdout_truncated);
  }
  SECTION("empty") {
    spec.stdin_data.clear();
    auto r = run(runner, spec);
    CHECK(r.exit_code == 0);
    CHECK(r.stdout_text.empty());
  }
}

TEST_CASE("exec: drops stdin data a child does not read", "[runtime][exec]") {
  // The write hits a closed pipe: EPIPE, and SIGPIPE must not kill us.
  process_runner runner;
  auto spec = command({"true"});
  spec.stdin_data.assign(4 * 1024 * 1024, 'x');
  auto r = run(runner, spec);
  CHECK(r.exit_code == 0);
  CHECK(r.error.empty());
}

TEST_CASE("exec: separates stdout and stderr", "[runtime][exec]") {
  process_runner runner;
  auto r = run(runner, shell("echo out; echo err >&2; echo more"));
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_text == "out\nmore\n");
  CHECK(r.stderr_text == "err\n");
  CHECK_FALSE(r.stdout_truncated);
  CHECK_FALSE(r.stderr_truncated);
}

TEST_CASE("exec: caps output and keeps draining past the cap",
          "[runtime][exec]") {
  process_runner runner;
  auto spec = shell("head -c 10485760 /dev/zero;"
                    "head -c 10485760 /dev/zero >&2; echo done >&2");
  spec.max_output_bytes = 4096;
  auto r = run(runner, spec);
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_text == std::string(4096, '\0'));
  CHECK(r.stderr_text.size() == 4096);
  CHECK(r.stdout_truncated);
  CHECK(r.stderr_truncated);
}

TEST_CASE("exec: gives a child the default SIGPIPE disposition",
          "[runtime][exec]") {
  // With SIGPIPE inherited as ignored, `yes` would see EPIPE and complain.
  auto old = ::signal(SIGPIPE, SIG_IGN);
  {
    process_runner runner;
    auto r = run(runner, shell("yes | head -c 4"));
    CHECK(r.exit_code == 0);
    CHECK(r.stdout_text == "y\ny\n");
    CHECK(r.stderr_text.empty());
  }
  ::signal(SIGPIPE, old);
}

TEST_CASE("exec: runs the child in cwd", "[runtime][exec]") {
  process_runner runner;
  SECTION("an existing directory") {
    auto dir = make_temp_dir();
    auto spec = command({"/bin/pwd"});
    spec.cwd = dir.string();
    auto r = run(runner, spec);
    std::filesystem::remove(dir);
    CHECK(r.exit_code == 0);
    CHECK(r.stdout_text == dir.string() + "\n");
  }
  SECTION("a missing directory is a spawn failure") {
    auto spec = command({"/bin/pwd"});
    spec.cwd = "/nonexistent/rouse-exec-test";
    auto r = run(runner, spec);
    CHECK(r.spawn_failed);
    CHECK(r.pid == -1);
    CHECK(r.exit_code == -1);
    CHECK(rouse::is(r.cause, errc::spawn_failed));
    CHECK(r.error
          == "spawn /bin/pwd: cwd /nonexistent/rouse-exec-test: "
             "No such file or directory");
  }
}

TEST_CASE("exec: reports a program that cannot run as a spawn failure",
          "[runtime][exec]") {
  process_runner runner;
  SECTION("a missing path") {
    auto r = run(runner, command({"/nonexistent/rouse-exec-test"}));
    CHECK(r.spawn_failed);
    CHECK(r.error
          == "spawn /nonexistent/rouse-exec-test: No such file or directory");
  }
  SECTION("a name not in PATH") {
    auto r = run(runner, command({"rouse-exec-test-no-such-program"}));
    CHECK(r.spawn_failed);
    CHECK(r.error
          == "spawn rouse-exec-test-no-such-program: "
             "No such file or directory");
  }
  SECTION("a file that is not executable") {
    auto dir = make_temp_dir();
    auto file = dir / "not-executable";
    std::ofstream{file} << "#!/bin/sh\nexit 0\n";
    ::chmod(file.c_str(), 0644);
    auto r = run(runner, command({file.string()}));
    std::filesystem::remove_all(dir);
    CHECK(r.spawn_failed);
    CHECK(r.error == "spawn " + file.string() + ": Permission denied");
  }
  SECTION("an empty argv") {
    auto r = run(runner, process_spec{});
    CHECK(r.spawn_failed);
    CHECK(r.error == "spawn: empty argv");
  }
  CHECK(runner.running() == 0);
}

TEST_CASE("exec: terminates a timed-out process with SIGTERM",
          "[runtime][exec]") {
  process_runner runner;
  auto spec = command({"sleep", "30"});
  spec.timeout = 300ms;
  auto r = run(runner, spec);
  CHECK(r.timed_out);
  CHECK(r.term_signal == SIGTERM);
  CHECK(r.exit_code == -1);
  CHECK_FALSE(r.spawn_failed);
  CHECK(r.error == "timeout after 300ms (SIGTERM)");
  CHECK_FALSE(r.cause);
}

TEST_CASE("exec: sends SIGKILL after kill_grace to a process ignoring SIGTERM",
          "[runtime][exec]") {
  process_runner runner;
  auto spec = shell("trap '' TERM; echo ready; sleep 30");
  spec.timeout = 1s;
  spec.kill_grace = 200ms;
  auto r = run(runner, spec);
  REQUIRE(r.stdout_text == "ready\n"); // the trap was set before the timeout
  CHECK(r.timed_out);
  CHECK(r.term_signal == SIGKILL);
  CHECK(r.error == "timeout after 1s (SIGTERM, SIGKILL after 200ms grace)");
}

TEST_CASE("exec: kills grandchildren with the process group on timeout",
          "[runtime][exec]") {
  process_runner runner;
  auto spec = shell("sleep 30 & echo $!; wait");
  spec.timeout = 1s;
  auto r = run(runner, spec);
  CHECK(r.timed_out);
  REQUIRE_FALSE(r.stdout_text.empty());
  auto grandchild = std::stoi(r.stdout_text);
  CHECK(wait_until_dead(grandchild));
}

TEST_CASE("exec: kills stragglers that survive the SIGTERM of a timeout",
          "[runtime][exec]") {
  // The shell dies of SIGTERM; the grandchild ignores it and holds the pipes
  // until the run completes, which kills it without waiting for kill_grace.
  process_runner runner;
  auto spec = shell("(trap '' TERM; sleep 30) & echo $!; wait");
  spec.timeout = 1s;
  spec.kill_grace = 60s;
  auto r = run(runner, spec);
  CHECK(r.timed_out);
  CHECK(r.term_signal == SIGTERM);
  REQUIRE_FALSE(r.stdout_text.empty());
  CHECK(wait_until_dead(std::stoi(r.stdout_text)));
}

TEST_CASE("exec: completes when a background grandchild holds the pipes",
          "[runtime][exec]") {
  process_runner runner;
  auto r = run(runner, shell("sleep 30 & echo $!"));
  CHECK(r.exit_code == 0);
  CHECK_FALSE(r.timed_out);
  REQUIRE_FALSE(r.stdout_text.empty());
  auto grandchild = std::stoi(r.stdout_text);
  CHECK(is_alive(grandchild)); // not a timeout: the runner leaves it alone
  ::kill(grandchild, SIGKILL);
}

TEST_CASE("exec: completes 50 concurrent processes", "[runtime][exec]") {
  process_runner runner;
  collector results;
  constexpr std::size_t n = 50;
  std::vector<std::thread> starters;
  for (std::size_t t = 0; t < 2; ++t)
    starters.emplace_back([&, t] {
      for (std::size_t i = t; i < n; i += 2)
        runner.start(shell("sleep 0.2; echo " + std::to_string(i)),
                     results.callback());
    });
  for (auto& t : starters)
    t.join();
  REQUIRE(results.wait_for(n));
  std::vector<bool> seen(n, false);
  std::lock_guard guard{results.mtx};
  for (const auto& r : results.results) {
    CHECK(r.exit_code == 0);
    auto i = std::stoul(r.stdout_text);
    REQUIRE(i < n);
    seen[i] = true;
  }
  CHECK(static_cast<std::size_t>(std::count(seen.begin(), seen.end(), true))
        == n);
  CHECK(runner.running() == 0);
}

TEST_CASE("exec: fails fast with overloaded beyond max_processes",
          "[runtime][exec]") {
  collector results;
  {
    runner_options opts;
    opts.max_processes = 2;
    process_runner runner{opts};
    runner.start(command({"sleep", "30"}), results.callback());
    runner.start(command({"sleep", "30"}), results.callback());
    CHECK(runner.running() == 2);
    auto r = run(runner, command({"sleep", "30"}));
    CHECK(r.spawn_failed);
    CHECK(rouse::is(r.cause, errc::overloaded));
    CHECK(r.error == "spawn sleep: overloaded (2 processes running)");
    CHECK(runner.running() == 2);
  }
  CHECK(results.results.size() == 2);
}

TEST_CASE("exec: stops running children when destroyed", "[runtime][exec]") {
  collector results;
  auto runner = std::make_unique<process_runner>();
  for (int i = 0; i < 3; ++i)
    runner->start(shell("echo started; sleep 30"), results.callback());
  auto ignores_term = shell("trap '' TERM; sleep 30");
  runner->start(ignores_term, results.callback());
  runner.reset(); // must not wait for the sleeps
  std::lock_guard guard{results.mtx};
  REQUIRE(results.results.size() == 4);
  for (const auto& r : results.results) {
    CHECK(r.error == "runner stopped");
    CHECK(rouse::is(r.cause, errc::shutting_down));
    // Queued requests never start; started ones are killed.
    if (!r.spawn_failed) {
      CHECK(r.term_signal == SIGKILL);
      CHECK(r.exit_code == -1);
    }
  }
}

TEST_CASE("exec: passes no descriptors beyond stdio to the child",
          "[runtime][exec]") {
  // Opened without O_CLOEXEC, as careless code elsewhere in a process might.
  int fd = ::open("/dev/null", O_RDONLY);
  REQUIRE(fd >= 3);
  process_runner runner;
  auto r = run(runner, shell("test -e /proc/$$/fd/" + std::to_string(fd)
                             + " && echo leaked || echo closed"));
  ::close(fd);
  CHECK(r.stdout_text == "closed\n");
}

TEST_CASE("exec: closes its descriptors and reaps every child",
          "[runtime][exec]") {
  auto count_fds = [] {
    auto entries = std::filesystem::directory_iterator{"/proc/self/fd"};
    return std::distance(begin(entries), end(entries));
  };
  auto before = count_fds();
  {
    collector results; // outlives the runner, which completes into it
    process_runner runner;
    auto spec = shell("cat; sleep 30");
    spec.stdin_data = "x";
    runner.start(spec, results.callback());
    spec.timeout = 100ms;
    runner.start(spec, results.callback());
    runner.start(shell("exit 3"), results.callback());
    REQUIRE(results.wait_for(2));
  }
  CHECK(count_fds() == before);
  // Every child of this process (from any test so far) was reaped.
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

TEST_CASE("exec: cancel terminates a running process with SIGTERM",
          "[runtime][exec]") {
  process_runner runner;
  auto dir = make_temp_dir();
  auto started = dir / "started";
  auto spec = shell("touch '" + started.string() + "'; exec sleep 30");
  spec.tag = "run-1";
  auto result = start_in_background(runner, spec);
  REQUIRE(wait_for_file(started));
  CHECK(runner.cancel("run-1", "stopped by user"));
  auto r = await_result(result);
  std::filesystem::remove_all(dir);
  CHECK(r.cancelled);
  CHECK(r.term_signal == SIGTERM);
  CHECK(r.exit_code == -1);
  CHECK(r.pid > 0);
  CHECK_FALSE(r.timed_out);
  CHECK_FALSE(r.spawn_failed);
  CHECK_FALSE(r.cause);
  CHECK(r.error == "cancelled: stopped by user (SIGTERM)");
  CHECK(runner.running() == 0);
  CHECK_FALSE(runner.cancel("run-1", "again")); // completed: nothing to find
}

TEST_CASE("exec: cancel sends SIGKILL after kill_grace to a process ignoring "
          "SIGTERM",
          "[runtime][exec]") {
  process_runner runner;
  auto dir = make_temp_dir();
  auto started = dir / "started";
  // sleep inherits the ignored SIGTERM, so only SIGKILL ends the group.
  auto spec = shell("trap '' TERM; touch '" + started.string() + "'; sleep 30");
  spec.tag = "stuck";
  spec.kill_grace = 200ms;
  spec.timeout = 60s;
  auto result = start_in_background(runner, spec);
  REQUIRE(wait_for_file(started));
  CHECK(runner.cancel("stuck", "deploy"));
  auto r = await_result(result);
  std::filesystem::remove_all(dir);
  CHECK(r.cancelled);
  CHECK_FALSE(r.timed_out);
  CHECK(r.term_signal == SIGKILL);
  CHECK(r.error == "cancelled: deploy (SIGTERM, SIGKILL after 200ms grace)");
}

TEST_CASE("exec: cancel kills grandchildren that survive the SIGTERM",
          "[runtime][exec]") {
  // The shell dies of SIGTERM; the grandchild ignores it and holds the pipes
  // until the run completes, which kills the group without waiting for
  // kill_grace.
  process_runner runner;
  auto dir = make_temp_dir();
  auto started = dir / "started";
  auto spec = shell("(trap '' TERM; sleep 30) & echo $!; touch '"
                    + started.string() + "'; wait");
  spec.tag = "tree";
  spec.kill_grace = 60s;
  auto result = start_in_background(runner, spec);
  REQUIRE(wait_for_file(started));
  CHECK(runner.cancel("tree", ""));
  auto r = await_result(result);
  std::filesystem::remove_all(dir);
  CHECK(r.cancelled);
  CHECK(r.term_signal == SIGTERM);
  CHECK(r.error == "cancelled (SIGTERM)");
  REQUIRE_FALSE(r.stdout_text.empty());
  CHECK(wait_until_dead(std::stoi(r.stdout_text)));
}

TEST_CASE("exec: cancel completes queued runs without spawning them",
          "[runtime][exec]") {
  // A completion that blocks holds the runner thread, so the runs started
  // meanwhile stay queued until cancel() marked them.
  auto entered = std::make_shared<std::promise<void>>();
  auto release = std::make_shared<std::promise<void>>();
  auto released = release->get_future().share();
  collector results;
  process_runner runner;
  runner.start(shell("true"), [entered, released](process_result) {
    entered->set_value();
    released.wait_for(wait_bound);
  });
  REQUIRE(entered->get_future().wait_for(wait_bound)
          == std::future_status::ready);
  auto queued = shell("exit 5");
  queued.tag = "q";
  runner.start(queued, results.callback());
  runner.start(queued, results.callback());
  auto other = shell("exit 6");
  other.tag = "other";
  runner.start(other, results.callback());
  CHECK(runner.cancel("q", "superseded"));
  release->set_value();
  REQUIRE(results.wait_for(3));
  std::lock_guard guard{results.mtx};
  int cancelled = 0;
  for (const auto& r : results.results) {
    if (r.exit_code == 6) {
      CHECK_FALSE(r.cancelled);
      continue;
    }
    ++cancelled;
    CHECK(r.cancelled);
    CHECK(r.pid == -1);
    CHECK(r.exit_code == -1);
    CHECK(r.term_signal == 0);
    CHECK_FALSE(r.spawn_failed);
    CHECK_FALSE(r.cause);
    CHECK(r.error == "cancelled: superseded");
  }
  CHECK(cancelled == 2);
}

TEST_CASE("exec: cancel leaves runs with other tags alone", "[runtime][exec]") {
  process_runner runner;
  auto tagged = shell("sleep 0.2; exit 3");
  tagged.tag = "a";
  auto result = start_in_background(runner, tagged);
  auto untagged = run(runner, shell("exit 4"));
  CHECK(untagged.exit_code == 4);
  CHECK_FALSE(runner.cancel("b", "unknown tag"));
  CHECK_FALSE(runner.cancel("", "empty tag"));
  auto r = await_result(result);
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.cancelled);
  CHECK(r.error.empty());
  CHECK_FALSE(runner.cancel("a", "too late"));
}

TEST_CASE("exec: reads /proc stat fields behind a name with ') ' in it",
          "[runtime][exec]") {
  auto dir = make_temp_dir();
  auto program = dir / "x) 1 2 (y";
  std::filesystem::copy_file("/bin/sleep", program);
  process_runner runner;
  auto spec = command({program.string(), "30"});
  spec.tag = "odd";
  auto result = start_in_background(runner, spec);
  // Found by name, as the pid is only known at completion.
  int pid = 0;
  REQUIRE(wait_until([&] {
    for (const auto& e : std::filesystem::directory_iterator{"/proc"}) {
      std::ifstream in{e.path() / "comm"};
      std::string name;
      if (std::getline(in, name) && name == "x) 1 2 (y") {
        pid = std::stoi(e.path().filename().string());
        return true;
      }
    }
    return false;
  }));
  auto odd = rouse::exec::detail::read_proc_stat(pid);
  auto self = rouse::exec::detail::read_proc_stat(::getpid());
  CHECK(runner.cancel("odd", "done"));
  await_result(result);
  std::filesystem::remove_all(dir);
  REQUIRE(odd);
  REQUIRE(self);
  CHECK((odd->state == 'S' || odd->state == 'R'));
  // Started after this process: a misparsed field would hardly be larger.
  CHECK(odd->start_time >= self->start_time);
  CHECK(self->state == 'R');
}

TEST_CASE("exec: records each running child in the registry until it is "
          "reaped",
          "[runtime][exec]") {
  auto dir = make_temp_dir();
  {
    runner_options opts;
    opts.registry_dir = (dir / "registry").string();
    process_runner runner{opts};
    auto spec = command({"sleep", "30"});
    spec.tag = "run-7";
    auto result = start_in_background(runner, spec);
    REQUIRE(
        wait_until([&] { return !registry_files(dir / "registry").empty(); }));
    auto names = registry_files(dir / "registry");
    REQUIRE(names.size() == 1);
    std::ifstream in{dir / "registry" / names[0]};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    auto entry = rouse::exec::detail::parse_registry_entry(text);
    REQUIRE(entry);
    auto boot_id = rouse::exec::detail::read_boot_id();
    REQUIRE(boot_id);
    CHECK(entry->boot_id == *boot_id);
    CHECK(entry->tag == "run-7");
    auto stat = rouse::exec::detail::read_proc_stat(std::stoi(names[0]));
    REQUIRE(stat);
    CHECK(entry->start_time == stat->start_time);

    SECTION("a second runner cannot use the same directory") {
      process_runner second{opts};
      auto r = run(second, command({"true"}));
      CHECK(r.spawn_failed);
      CHECK(rouse::is(r.cause, errc::spawn_failed));
      CHECK_THAT(r.error, Catch::Contains("in use by another process runner"));
      auto killed = kill_leftovers(opts.registry_dir);
      REQUIRE_FALSE(killed);
      CHECK(rouse::is(killed.error(), errc::spawn_failed));
    }

    CHECK(runner.cancel("run-7", "test over"));
    auto r = await_result(result);
    CHECK(std::to_string(r.pid) == names[0]);
    CHECK(registry_files(dir / "registry").empty());
    auto quick = run(runner, command({"true"}));
    CHECK(quick.exit_code == 0);
    CHECK(registry_files(dir / "registry").empty());
  }
  // The runner released its lock: a restart would find nothing to kill.
  auto killed = kill_leftovers((dir / "registry").string());
  REQUIRE(killed);
  CHECK(killed->empty());
  std::filesystem::remove_all(dir);
}

TEST_CASE("exec: kill_leftovers kills a recorded process and removes its file",
          "[runtime][exec]") {
  auto dir = make_temp_dir();
  process_runner runner;
  auto pid = spawn_orphan(runner);
  record_in_registry(dir, pid, "run-9");
  auto killed = kill_leftovers(dir.string());
  REQUIRE(killed);
  REQUIRE(killed->size() == 1);
  CHECK((*killed)[0].pid == pid);
  CHECK((*killed)[0].tag == "run-9");
  CHECK((*killed)[0].gone);
  CHECK(wait_until_dead(pid));
  CHECK(registry_files(dir).empty());
  std::filesystem::remove_all(dir);
}

TEST_CASE("exec: kill_leftovers removes entries of other processes without "
          "killing",
          "[runtime][exec]") {
  auto dir = make_temp_dir();
  process_runner runner;
  auto pid = spawn_orphan(runner);
  SECTION("another start time: the pid was reused") {
    auto stat = rouse::exec::detail::read_proc_stat(pid);
    REQUIRE(stat);
    record_in_registry(dir, pid, "old", std::nullopt, stat->start_time + 1);
  }
  SECTION("another boot id: recorded before a reboot") {
    record_in_registry(dir, pid, "old", "00000000-0000-0000-0000-000000000000");
  }
  check_kills_none(dir, pid);
  kill_orphan(pid);
  std::filesystem::remove_all(dir);
}

TEST_CASE("exec: kill_leftovers removes malformed files without killing",
          "[runtime][exec]") {
  auto dir = make_temp_dir();
  process_runner runner;
  auto pid = spawn_orphan(runner);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream{dir / name} << text;
  };
  auto boot_id = rouse::exec::detail::read_boot_id();
  REQUIRE(boot_id);
  auto stat = rouse::exec::detail::read_proc_stat(pid);
  REQUIRE(stat);
  rouse::exec::detail::registry_entry valid{*boot_id, stat->start_time, "t"};
  auto text = rouse::exec::detail::format_registry_entry(valid);
  // Each names the live orphan but is broken in one way.
  write(std::to_string(pid), text.substr(0, text.size() - 1)); // truncated
  write("garbage", text);
  write("0" + std::to_string(pid), text);
  write(std::to_string(pid) + "x", text);
  write("." + std::to_string(pid) + ".tmp", text);
  write("-" + std::to_string(pid), text);
  write("99999999999999999999", "garbage\n");
  write("12", "");
  write("13", "rouse-exec-registry 1\n" + *boot_id + "\nabc\nt\n");
  write("14", std::string(100 * 1024, 'x'));
  std::filesystem::create_directory(dir / "15");
  // This process's own entry, valid in every other way, is never acted on.
  record_in_registry(dir, ::getpid(), "self");
  check_kills_none(dir, pid);
  kill_orphan(pid);
  std::filesystem::remove_all(dir);
}

TEST_CASE("exec: kill_leftovers creates a missing directory",
          "[runtime][exec]") {
  auto dir = make_temp_dir();
  auto registry = dir / "a" / "registry";
  auto killed = kill_leftovers(registry.string());
  REQUIRE(killed);
  CHECK(killed->empty());
  CHECK(std::filesystem::is_directory(registry));
  CHECK(kill_leftovers("")->empty()); // off
  std::filesystem::remove_all(dir);
}
