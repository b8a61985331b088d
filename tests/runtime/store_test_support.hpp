// Helpers shared by the store_test sources: a store opened in a directory
// without fsync, a pending run record, and a journal fixture that collects
// the events it committed.
#pragma once

#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace rouse::store_test {

/// Returns a store in `dir` with a map of `map` bytes and a dedup `window`;
/// fails the test if it does not open.
inline std::unique_ptr<store::store>
open_store(const std::string& dir, uint64_t map = 64ull << 20,
           std::chrono::nanoseconds window = std::chrono::hours{24}) {
  store::store_options opts;
  opts.dir = dir;
  opts.map_size_bytes = map;
  opts.sync = false; // tests need no power-loss durability
  opts.dedup_window = window;
  auto s = store::store::open(opts);
  REQUIRE(s);
  return std::move(*s);
}

/// Returns a pending run of `trigger` for the event `seq`.
inline run_record make_run(uint64_t seq, std::string trigger) {
  run_record run;
  run.id = make_run_id(seq, trigger);
  run.trigger = std::move(trigger);
  run.event_seq = seq;
  run.transition(run_state::pending, 1);
  return run;
}

/// A store in a temporary directory, with a journal callback that collects
/// the committed events.
struct journal_fixture {
  test::temp_dir dir;
  std::unique_ptr<store::store> db;
  std::mutex mx;
  std::condition_variable cv;
  std::vector<event> committed;

  explicit journal_fixture(uint64_t map = 64ull << 20) {
    db = open_store(dir.path(), map);
  }

  store::committed_fn on_committed() {
    return [this](std::vector<event>&& evs) {
      std::lock_guard<std::mutex> guard{mx};
      for (auto& ev : evs)
        committed.push_back(std::move(ev));
      cv.notify_all();
    };
  }
};

} // namespace rouse::store_test
