// Helpers shared by the exec_test sources: building process specs, running
// them and waiting for their results, collecting completions, watching pids
// die, temporary directories and waiting for a condition.
#pragma once

#include "runtime/exec/process_runner.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
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

namespace rouse::exec_test {

/// How long a test waits for something that should take milliseconds.
inline constexpr auto wait_bound = std::chrono::seconds{20};

/// Returns a spec that runs `argv`.
inline exec::process_spec command(std::vector<std::string> argv) {
  exec::process_spec spec;
  spec.argv = std::move(argv);
  return spec;
}

/// Returns a spec that runs `script` with /bin/sh -c.
inline exec::process_spec shell(const std::string& script) {
  return command({"/bin/sh", "-c", script});
}

/// Collects results from completions, which run on the runner thread.
struct collector {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<exec::process_result> results;

  exec::process_runner::completion callback() {
    return [this](exec::process_result r) {
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
inline std::future<exec::process_result>
start_in_background(exec::process_runner& runner, exec::process_spec spec) {
  // Shared with the completion, which may outlive a failed wait.
  auto promise = std::make_shared<std::promise<exec::process_result>>();
  auto result = promise->get_future();
  runner.start(std::move(spec), [promise](exec::process_result r) {
    promise->set_value(std::move(r));
  });
  return result;
}

/// Returns the result of a run started in the background; fails the test
/// after `wait_bound`.
inline exec::process_result
await_result(std::future<exec::process_result>& result) {
  REQUIRE(result.wait_for(wait_bound) == std::future_status::ready);
  return result.get();
}

/// Runs `spec` and returns its result; fails the test after `wait_bound`.
inline exec::process_result run(exec::process_runner& runner,
                                exec::process_spec spec) {
  auto result = start_in_background(runner, std::move(spec));
  return await_result(result);
}

/// Returns true if `pid` exists and is not a zombie.
inline bool is_alive(int pid) {
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
inline bool wait_until_dead(int pid) {
  auto until = std::chrono::steady_clock::now() + wait_bound;
  while (is_alive(pid)) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return true;
}

/// Returns a fresh directory under the system's temp directory.
inline std::filesystem::path make_temp_dir() {
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
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return true;
}

/// Returns true once `path` exists, false after `wait_bound`.
inline bool wait_for_file(const std::filesystem::path& path) {
  return wait_until([&] { return std::filesystem::exists(path); });
}

} // namespace rouse::exec_test
