// Tests the process runner with real processes (/bin/sh, cat, env, printenv,
// sleep): exit codes, environment, stdin, output caps, cwd, spawn failures,
// timeouts with process groups, concurrency, overload, shutdown and
// descriptors. Cancellation and the child registry are tested in
// exec_cancel_test.cpp and exec_registry_test.cpp.
#include "runtime/exec/process_runner.hpp"

#include "tests/runtime/exec_test_support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace rouse::exec_test;
using namespace std::chrono_literals;
using rouse::errc;
using rouse::exec::process_result;
using rouse::exec::process_runner;
using rouse::exec::process_spec;
using rouse::exec::runner_options;

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
