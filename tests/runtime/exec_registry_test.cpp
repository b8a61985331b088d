// Tests the child registry of the process runner (a file per running child,
// its /proc stat fields) and kill_leftovers(), which kills what a SIGKILLed
// rouse left running, with orphans started through setsid.
#include "runtime/exec/process_runner.hpp"

#include "runtime/exec/registry.hpp"
#include "tests/runtime/exec_test_support.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

using namespace rouse::exec_test;
using rouse::errc;
using rouse::exec::kill_leftovers;
using rouse::exec::process_runner;
using rouse::exec::runner_options;

namespace {

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
