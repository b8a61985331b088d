// Tests the LMDB store and the group-commit journal: appends, dedup window,
// runs, checkpoints, map full, recovery of the sequence after reopening,
// released map pages and states. Budgets are tested in store_budget_test.cpp,
// the codec in store_codec_test.cpp.
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "tests/runtime/store_test_support.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace rouse;
using namespace rouse::store_test;
using namespace std::chrono_literals;

namespace {

event make_event(std::string id, std::string source = "src",
                 std::string type = "t") {
  event ev;
  ev.id = std::move(id);
  ev.source = std::move(source);
  ev.type = std::move(type);
  ev.data = R"({"k":1})";
  return ev;
}

// Appends `events` in one transaction; returns the results.
std::vector<store::append_result>
append_all(store::store& db, std::vector<event> events, int64_t now) {
  auto txn = db.begin_write();
  REQUIRE(txn);
  std::vector<store::append_result> out;
  for (auto& ev : events) {
    auto r = db.append(*txn, ev, now);
    REQUIRE(r);
    out.push_back(*r);
  }
  REQUIRE_FALSE(txn->commit());
  return out;
}

} // namespace

TEST_CASE("store: appended events get increasing seqs and read back",
          "[runtime][store]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  auto r = append_all(*db, {make_event("a"), make_event("b")}, 1000);
  CHECK(r[0].seq == 1);
  CHECK(r[1].seq == 2);
  CHECK(db->last_seq() == 2);
  auto ev = db->get_event(2);
  REQUIRE(ev);
  REQUIRE(*ev);
  CHECK((*ev)->id == "b");
  CHECK((*ev)->received_ns == 1000);
  auto all = db->read_events(1, 10);
  REQUIRE(all);
  CHECK(all->size() == 2);
  auto found = db->find_events("a");
  REQUIRE(found);
  REQUIRE(found->size() == 1);
  CHECK(found->front().seq == 1);
}

TEST_CASE("store: a duplicate inside the window is stored once",
          "[runtime][store]") {
  test::temp_dir dir;
  auto db = open_store(dir.path(), 64ull << 20, 10s);
  auto first = append_all(*db, {make_event("a")}, 0);
  SECTION("inside the window, also in the same transaction") {
    auto r = append_all(*db, {make_event("a"), make_event("a")},
                        std::chrono::nanoseconds{9s}.count());
    CHECK(r[0].duplicate);
    CHECK(r[0].seq == first[0].seq);
    CHECK(r[1].duplicate);
    CHECK(db->last_seq() == 1);
  }
  SECTION("the same id from another source is not a duplicate") {
    auto r = append_all(*db, {make_event("a", "other")}, 1);
    CHECK_FALSE(r[0].duplicate);
    CHECK(db->last_seq() == 2);
    auto found = db->find_events("a");
    REQUIRE(found);
    CHECK(found->size() == 2);
  }
  SECTION("after the window it is a new event") {
    auto r = append_all(*db, {make_event("a")},
                        std::chrono::nanoseconds{11s}.count());
    CHECK_FALSE(r[0].duplicate);
    CHECK(r[0].seq == 2);
  }
}

TEST_CASE("store: dedup and the sequence survive reopening",
          "[runtime][store]") {
  test::temp_dir dir;
  {
    auto db = open_store(dir.path());
    append_all(*db, {make_event("a"), make_event("b")}, 5);
  }
  auto db = open_store(dir.path());
  CHECK(db->last_seq() == 2);
  auto r = append_all(*db, {make_event("a"), make_event("c")}, 6);
  CHECK(r[0].duplicate);
  CHECK(r[1].seq == 3);
}

TEST_CASE("store: an aborted transaction leaves no trace", "[runtime][store]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  {
    auto txn = db->begin_write();
    REQUIRE(txn);
    auto ev = make_event("a");
    REQUIRE(db->append(*txn, ev, 1));
  } // aborted by the destructor
  CHECK(db->last_seq() == 0);
  auto r = append_all(*db, {make_event("a")}, 2);
  CHECK_FALSE(r[0].duplicate);
  CHECK(r[0].seq == 1);
}

TEST_CASE("store: runs are created once and indexed by state",
          "[runtime][store]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  auto run = make_run(7, "hello");
  {
    auto txn = db->begin_write();
    REQUIRE(txn);
    CHECK(*db->put_run_if_absent(*txn, run));
    CHECK_FALSE(*db->put_run_if_absent(*txn, run));
    REQUIRE_FALSE(txn->commit());
  }
  run.transition(run_state::running, 2, "attempt 1");
  {
    auto txn = db->begin_write();
    REQUIRE(txn);
    REQUIRE_FALSE(db->put_run(*txn, run));
    REQUIRE_FALSE(txn->commit());
  }
  auto stored = db->get_run(run.id);
  REQUIRE(stored);
  REQUIRE(*stored);
  CHECK((*stored)->history.size() == 2);
  CHECK(db->runs_in_state(run_state::pending)->empty());
  CHECK(db->runs_in_state(run_state::running)->size() == 1);

  {
    store::run_filter f;
    f.trigger = "other";
    CHECK(db->list_runs(f)->empty());
    f.trigger = "hello";
    f.state = run_state::running;
    CHECK(db->list_runs(f)->size() == 1);
  }
}

TEST_CASE("store: a checkpoint never moves backwards", "[runtime][store]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  auto txn = db->begin_write();
  REQUIRE(txn);
  REQUIRE_FALSE(db->advance_checkpoint(*txn, "shard/0", 10));
  REQUIRE_FALSE(db->advance_checkpoint(*txn, "shard/0", 4));
  REQUIRE_FALSE(txn->commit());
  CHECK(*db->checkpoint("shard/0") == 10);
  CHECK(*db->checkpoint("shard/1") == 0);
}

TEST_CASE("journal: concurrent appends share commits and are all acked",
          "[runtime][store][journal]") {
  journal_fixture fx;
  store::journal j{*fx.db, {}, fx.on_committed()};
  constexpr int producers = 4;
  constexpr int per_producer = 500;
  std::atomic<int> acked{0};
  std::atomic<int> failed{0};
  std::promise<void> all_done;
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        store::append_op op;
        op.events.push_back(
            make_event("p" + std::to_string(p) + "-" + std::to_string(i)));
        op.done = [&](caf::expected<std::vector<store::append_outcome>> r) {
          if (r && r->size() == 1 && !r->front().duplicate)
            ++acked;
          else
            ++failed;
          if (acked + failed == producers * per_producer)
            all_done.set_value();
        };
        j.submit(std::move(op));
      }
    });
  for (auto& t : threads)
    t.join();
  REQUIRE(all_done.get_future().wait_for(30s) == std::future_status::ready);
  CHECK(acked == producers * per_producer);
  CHECK(failed == 0);
  CHECK(fx.db->last_seq() == producers * per_producer);
  // Group commit: far fewer commits than operations (each producer keeps the
  // queue non-empty while a commit is in flight).
  CHECK(j.commits() < producers * per_producer);
  std::unique_lock<std::mutex> guard{fx.mx};
  REQUIRE(fx.cv.wait_for(guard, 10s, [&] {
    return fx.committed.size() == producers * per_producer;
  }));
  for (size_t i = 0; i < fx.committed.size(); ++i)
    CHECK(fx.committed[i].seq == i + 1);
}

TEST_CASE("journal: a route op stores runs and checkpoint together",
          "[runtime][store][journal]") {
  journal_fixture fx;
  store::journal j{*fx.db, {}, {}};
  auto route = [&](uint64_t through, std::vector<run_record> runs) {
    std::promise<caf::expected<std::vector<run_record>>> p;
    store::route_op op;
    op.consumer = "shard/0";
    op.through_seq = through;
    op.runs = std::move(runs);
    op.done = [&](caf::expected<std::vector<run_record>> r) {
      p.set_value(std::move(r));
    };
    j.submit(std::move(op));
    auto f = p.get_future();
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
  };
  auto first = route(3, {make_run(3, "a"), make_run(3, "b")});
  REQUIRE(first);
  CHECK(first->size() == 2);
  CHECK(*fx.db->checkpoint("shard/0") == 3);
  // A replay of the same decision creates nothing new.
  auto replay = route(3, {make_run(3, "a"), make_run(3, "b")});
  REQUIRE(replay);
  CHECK(replay->empty());
  SECTION("a failing op rolls back its runs and its checkpoint together") {
    run_record bad = make_run(9, "c");
    bad.id = std::string(600, 'x'); // over LMDB's key limit: the put fails
    auto r = route(9, {make_run(9, "a"), bad});
    REQUIRE_FALSE(r);
    CHECK(*fx.db->checkpoint("shard/0") == 3);
    CHECK_FALSE(*fx.db->get_run(make_run_id(9, "a")));
  }
}

TEST_CASE(
    "journal: a full map fails the writes that do not fit, keeps the rest",
    "[runtime][store][journal]") {
  journal_fixture fx{1 << 20}; // 1 MiB map
  store::journal j{*fx.db, {}, {}};
  auto append = [&](std::string id, size_t bytes) {
    std::promise<caf::expected<std::vector<store::append_outcome>>> p;
    store::append_op op;
    auto ev = make_event(std::move(id));
    ev.data = "\"" + std::string(bytes, 'x') + "\"";
    op.events.push_back(std::move(ev));
    op.done = [&](caf::expected<std::vector<store::append_outcome>> r) {
      p.set_value(std::move(r));
    };
    j.submit(std::move(op));
    auto f = p.get_future();
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
  };
  REQUIRE(append("small-1", 1000));
  caf::error full;
  int stored = 1;
  for (int i = 0; i < 100 && !full; ++i) {
    auto r = append("big-" + std::to_string(i), 64 * 1024);
    if (r)
      ++stored;
    else
      full = r.error();
  }
  REQUIRE(full);
  CHECK(is(full, errc::storage_full));
  CHECK(describe(full).find("map_size") != std::string::npos);
  // Everything acked before is intact and readable; the failed event left
  // nothing.
  CHECK(fx.db->last_seq() == static_cast<uint64_t>(stored));
  auto events = fx.db->read_events(1, 1000);
  REQUIRE(events);
  CHECK(events->size() == static_cast<size_t>(stored));
  CHECK(fx.db->find_events("big-" + std::to_string(stored - 1))->empty());
  // A small write still fits afterwards.
  auto small = append("small-2", 10);
  REQUIRE(small);
  CHECK(small->front().seq == static_cast<uint64_t>(stored + 1));
}

TEST_CASE("journal: stop commits what is queued, later submits fail",
          "[runtime][store][journal]") {
  journal_fixture fx;
  store::journal j{*fx.db, {}, {}};
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    store::append_op op;
    op.events.push_back(make_event(std::to_string(i)));
    op.done = [&](caf::expected<std::vector<store::append_outcome>> r) {
      if (r)
        ++ok;
    };
    j.submit(std::move(op));
  }
  j.stop();
  CHECK(ok == 100);
  caf::error late;
  store::run_op op;
  op.run = make_run(1, "x");
  op.done = [&](caf::error err) { late = std::move(err); };
  j.submit(std::move(op));
  CHECK(is(late, errc::shutting_down));
}
// Two producers hand the turn to each other: B submits its write of a key
// only after A's write of that key was submitted, so B's must be the one that
// stays. The moodycamel queue alone keeps order per producer thread only (its
// consumer drains the newest producer first), which let a governor's older
// rate memo overwrite a newer one when the actor moved between threads.
TEST_CASE("journal: writes submitted one after the other commit in that order",
          "[runtime][store][journal]") {
  journal_fixture fx;
  store::journal j{*fx.db, {}, {}};
  constexpr int rounds = 2000;
  std::mutex mx;
  std::condition_variable cv;
  int turn = 0; // even: A's turn for key turn/2; odd: B's
  auto producer = [&](int parity, const char* value) {
    for (int i = 0; i < rounds; ++i) {
      std::unique_lock<std::mutex> lock{mx};
      cv.wait(lock, [&] { return turn == 2 * i + parity; });
      store::state_op op;
      op.key = "k" + std::to_string(i);
      op.value = value;
      j.submit(std::move(op));
      ++turn;
      cv.notify_all();
    }
  };
  std::thread a{producer, 0, "first"};
  std::thread b{producer, 1, "second"};
  a.join();
  b.join();
  j.stop();
  int reordered = 0;
  for (int i = 0; i < rounds; ++i) {
    auto v = fx.db->get_state("k" + std::to_string(i));
    REQUIRE(v);
    REQUIRE(*v);
    if (**v != "second")
      ++reordered;
  }
  CHECK(reordered == 0);
}

namespace {

// Writes `commits` transactions of 64 events with ~4 KiB of data each, pausing
// past the store's 10-ms check interval after each commit. Ids go on from the
// events already stored.
void write_padded_events(store::store& db, int commits) {
  uint64_t n = db.last_seq();
  for (int c = 0; c < commits; ++c) {
    auto txn = db.begin_write();
    REQUIRE(txn);
    for (int i = 0; i < 64; ++i, ++n) {
      auto ev = make_event("e" + std::to_string(n));
      ev.data = R"({"i":)" + std::to_string(n) + R"(,"pad":")"
                + std::string(4000, static_cast<char>('a' + n % 26)) + "\"}";
      REQUIRE(db.append(*txn, ev, 1000));
    }
    REQUIRE_FALSE(txn->commit());
    std::this_thread::sleep_for(12ms);
  }
}

std::unique_ptr<store::store> open_store_mapped(const std::string& dir,
                                                uint64_t max_mapped) {
  store::store_options opts;
  opts.dir = dir;
  opts.map_size_bytes = 64ull << 20;
  opts.sync = false;
  opts.max_mapped_bytes = max_mapped;
  auto s = store::store::open(opts);
  REQUIRE(s);
  return std::move(*s);
}

} // namespace

TEST_CASE("store: mapped pages over max_mapped are released, data intact",
          "[runtime][store]") {
  test::temp_dir dir;
  // One byte: any mapped file (the program's own libraries count) is over it,
  // so every check releases the map.
  auto db = open_store_mapped(dir.path(), 1);
  write_padded_events(*db, 8);
  auto stats = db->stats();
  REQUIRE(stats);
  CHECK(stats->map_trims > 0);
  // Every event reads back through the re-faulted map with its own data;
  // again after a read that touched all of them and another release.
  auto check_all = [&](std::size_t expected) {
    auto all = db->read_events(1, 1000);
    REQUIRE(all);
    REQUIRE(all->size() == expected);
    for (std::size_t i = 0; i < all->size(); ++i) {
      const auto& ev = (*all)[i];
      CHECK(ev.id == "e" + std::to_string(i));
      CHECK(ev.data.size() == 4015 + std::to_string(i).size());
      CHECK(ev.data[ev.data.size() - 3] == static_cast<char>('a' + i % 26));
    }
  };
  check_all(8 * 64);
  write_padded_events(*db, 1);
  auto again = db->stats();
  REQUIRE(again);
  CHECK(again->map_trims > stats->map_trims);
  check_all(9 * 64);
}

TEST_CASE("store: max_mapped 0 never releases the map", "[runtime][store]") {
  test::temp_dir dir;
  auto db = open_store_mapped(dir.path(), 0);
  write_padded_events(*db, 3);
  auto stats = db->stats();
  REQUIRE(stats);
  CHECK(stats->map_trims == 0);
}

TEST_CASE("store: states by prefix, and an empty value removes a state",
          "[runtime][store]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  {
    auto txn = db->begin_write();
    REQUIRE(txn);
    REQUIRE_FALSE(db->put_state(*txn,
                                "rate\x1ft\x1f"
                                "a",
                                "100"));
    REQUIRE_FALSE(db->put_state(*txn,
                                "rate\x1ft\x1f"
                                "b",
                                "200"));
    REQUIRE_FALSE(db->put_state(*txn,
                                "rate\x1ftt\x1f"
                                "a",
                                "300"));
    REQUIRE_FALSE(db->put_state(*txn, "circuit\x1ft", "closed"));
    REQUIRE_FALSE(txn->commit());
  }
  auto got = db->states("rate\x1ft\x1f");
  REQUIRE(got);
  using kv = std::pair<std::string, std::string>;
  CHECK(*got
        == std::vector<kv>{{"rate\x1ft\x1f"
                            "a",
                            "100"},
                           {"rate\x1ft\x1f"
                            "b",
                            "200"}});
  {
    auto txn = db->begin_write();
    REQUIRE(txn);
    REQUIRE_FALSE(db->put_state(*txn,
                                "rate\x1ft\x1f"
                                "a",
                                ""));
    // Removing what is not there is no error.
    REQUIRE_FALSE(db->put_state(*txn,
                                "rate\x1ft\x1f"
                                "zz",
                                ""));
    REQUIRE_FALSE(txn->commit());
  }
  got = db->states("rate\x1ft\x1f");
  REQUIRE(got);
  CHECK(*got
        == std::vector<kv>{{"rate\x1ft\x1f"
                            "b",
                            "200"}});
  auto gone = db->get_state("rate\x1ft\x1f"
                            "a");
  REQUIRE(gone);
  CHECK_FALSE(*gone);
  auto none = db->states("");
  REQUIRE(none);
  CHECK(none->empty());
}
