// Tests cancelling runs of the process runner by tag: SIGTERM, SIGKILL after
// kill_grace, grandchildren, queued runs and runs with other tags.
#include "runtime/exec/process_runner.hpp"

#include "tests/runtime/exec_test_support.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>

using namespace rouse::exec_test;
using namespace std::chrono_literals;
using rouse::exec::process_result;
using rouse::exec::process_runner;

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
