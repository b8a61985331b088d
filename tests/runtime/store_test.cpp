// Tests the LMDB store and the group-commit journal: appends, dedup window,
// checkpoint atomicity, map full, recovery of the sequence after reopening,
// budgets; and the codec's reading of run records stored by older versions.
#include "runtime/store/codec.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "tests/support/temp_dir.hpp"

#include <caf/binary_serializer.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace rouse;
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

std::unique_ptr<store::store>
open_store(const std::string& dir, uint64_t map = 64ull << 20,
           std::chrono::nanoseconds window = 24h) {
  store::store_options opts;
  opts.dir = dir;
  opts.map_size_bytes = map;
  opts.sync = false; // tests need no power-loss durability
  opts.dedup_window = window;
  auto s = store::store::open(opts);
  REQUIRE(s);
  return std::move(*s);
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

run_record make_run(uint64_t seq, std::string trigger) {
  run_record run;
  run.id = make_run_id(seq, trigger);
  run.trigger = std::move(trigger);
  run.event_seq = seq;
  run.transition(run_state::pending, 1);
  return run;
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

namespace {

// Collects journal callbacks for tests.
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

} // namespace

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

namespace {

budget_usage usage(std::string key, int64_t window, uint64_t runs,
                   double cost) {
  budget_usage u;
  u.key = std::move(key);
  u.window_ns = window;
  u.runs = runs;
  u.cost = cost;
  return u;
}

// Runs `f(txn)` in one write transaction and commits it.
template <class F>
void in_write(store::store& db, F f) {
  auto txn = db.begin_write();
  REQUIRE(txn);
  f(*txn);
  REQUIRE_FALSE(txn->commit());
}

// Returns what budgets(trigger) lists, sorted by key.
std::vector<budget_usage> budgets_of(store::store& db,
                                     std::string_view trigger) {
  auto r = db.budgets(trigger);
  REQUIRE(r);
  auto out = std::move(*r);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.key < b.key; });
  return out;
}

} // namespace

TEST_CASE("store: budget charges in one transaction add up",
          "[runtime][store][budget]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  CHECK(budgets_of(*db, "t").empty());
  in_write(*db, [&](store::write_txn& txn) {
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage("", 100, 1, 0.5)));
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage("", 100, 1, 0.25)));
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage("k", 100, 0, 2)));
  });
  auto b = budgets_of(*db, "t");
  REQUIRE(b.size() == 2);
  CHECK(b[0] == usage("", 100, 2, 0.75));
  CHECK(b[1] == usage("k", 100, 0, 2));
  // And across transactions.
  in_write(*db, [&](store::write_txn& txn) {
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage("", 100, 3, 1)));
  });
  b = budgets_of(*db, "t");
  REQUIRE(b.size() == 2);
  CHECK(b[0] == usage("", 100, 5, 1.75));
  SECTION("an aborted charge leaves nothing") {
    {
      auto txn = db->begin_write();
      REQUIRE(txn);
      REQUIRE_FALSE(db->charge_budget(*txn, "t", usage("", 100, 9, 9)));
    }
    CHECK(budgets_of(*db, "t")[0] == usage("", 100, 5, 1.75));
  }
}

TEST_CASE("store: a budget charge for a later window replaces the earlier one",
          "[runtime][store][budget]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  in_write(*db, [&](store::write_txn& txn) {
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage("k", 100, 7, 3.5)));
  });
  SECTION("a later window starts from zero") {
    in_write(*db, [&](store::write_txn& txn) {
      REQUIRE_FALSE(db->charge_budget(txn, "t", usage("k", 200, 1, 0.5)));
    });
    auto b = budgets_of(*db, "t");
    REQUIRE(b.size() == 1);
    CHECK(b[0] == usage("k", 200, 1, 0.5));
  }
  SECTION("a charge for an older window is ignored") {
    in_write(*db, [&](store::write_txn& txn) {
      REQUIRE_FALSE(db->charge_budget(txn, "t", usage("k", 0, 4, 4)));
      REQUIRE_FALSE(db->charge_budget(txn, "t", usage("k", -100, 4, 4)));
    });
    auto b = budgets_of(*db, "t");
    REQUIRE(b.size() == 1);
    CHECK(b[0] == usage("k", 100, 7, 3.5));
  }
  SECTION("windows before 1970 are kept apart from later ones") {
    in_write(*db, [&](store::write_txn& txn) {
      REQUIRE_FALSE(db->put_budget(txn, "t", usage("old", -200, 1, 1)));
      REQUIRE_FALSE(db->charge_budget(txn, "t", usage("old", -100, 1, 1)));
      REQUIRE_FALSE(db->charge_budget(txn, "t", usage("old", -300, 5, 5)));
    });
    auto b = budgets_of(*db, "t");
    REQUIRE(b.size() == 2);
    CHECK(b[1] == usage("old", -100, 1, 1));
  }
}

TEST_CASE("store: put_budget sets what a budget key spent",
          "[runtime][store][budget]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  in_write(*db, [&](store::write_txn& txn) {
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage("k", 100, 7, 3.5)));
    // A resume stores zero for the current window.
    REQUIRE_FALSE(db->put_budget(txn, "t", usage("k", 100, 0, 0)));
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage("k", 100, 1, 0.5)));
  });
  auto b = budgets_of(*db, "t");
  REQUIRE(b.size() == 1);
  CHECK(b[0] == usage("k", 100, 1, 0.5));
  // put_budget also replaces a later window with an earlier one.
  in_write(*db, [&](store::write_txn& txn) {
    REQUIRE_FALSE(db->put_budget(txn, "t", usage("k", 50, 2, 2)));
  });
  b = budgets_of(*db, "t");
  REQUIRE(b.size() == 1);
  CHECK(b[0] == usage("k", 50, 2, 2));
}

TEST_CASE("store: budgets lists only the trigger's own keys",
          "[runtime][store][budget]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  in_write(*db, [&](store::write_txn& txn) {
    for (std::string trigger : {"t", "t2", "t.x", "s", "u", "t-"}) {
      REQUIRE_FALSE(
          db->charge_budget(txn, trigger, usage(trigger + "/a", 1, 1, 0)));
      REQUIRE_FALSE(
          db->charge_budget(txn, trigger, usage(trigger + "/b", 1, 2, 0)));
    }
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage("", 1, 3, 0)));
    // State in the same database does not show up as a budget.
    REQUIRE_FALSE(
        db->put_state(txn, "cron/t", std::string(40, 'x') + "state value"));
  });
  auto t = budgets_of(*db, "t");
  REQUIRE(t.size() == 3);
  CHECK(t[0].key.empty());
  CHECK(t[1].key == "t/a");
  CHECK(t[2].key == "t/b");
  auto t2 = budgets_of(*db, "t2");
  REQUIRE(t2.size() == 2);
  CHECK(t2[0].key == "t2/a");
  CHECK(t2[1].key == "t2/b");
  CHECK(budgets_of(*db, "t.x").size() == 2);
  CHECK(budgets_of(*db, "t-").size() == 2);
  CHECK(budgets_of(*db, "u").size() == 2);
  CHECK(budgets_of(*db, "v").empty());
  CHECK(budgets_of(*db, "").empty());
  CHECK(*db->get_state("cron/t") == std::string(40, 'x') + "state value");
}

TEST_CASE("store: a long budget key round-trips", "[runtime][store][budget]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  std::string long_key(1000, 'k');
  std::string other_long = long_key;
  other_long.back() = 'z';
  std::string binary_key{"a\0\x1f\xff", 4};
  binary_key += 'b';
  in_write(*db, [&](store::write_txn& txn) {
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage(long_key, 10, 1, 1)));
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage(long_key, 10, 1, 1.5)));
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage(other_long, 10, 4, 0)));
    REQUIRE_FALSE(db->put_budget(txn, "t", usage(binary_key, 10, 6, 0)));
    REQUIRE_FALSE(
        db->put_budget(txn, "t", usage(std::string(300, 'e'), 10, 7, 0)));
    REQUIRE_FALSE(
        db->put_budget(txn, "t", usage(std::string(301, 'e'), 10, 8, 0)));
  });
  {
    auto b = budgets_of(*db, "t");
    REQUIRE(b.size() == 5);
    auto find = [&](const std::string& key) -> const budget_usage* {
      for (const auto& u : b)
        if (u.key == key)
          return &u;
      return nullptr;
    };
    REQUIRE(find(long_key));
    CHECK(*find(long_key) == usage(long_key, 10, 2, 2.5));
    REQUIRE(find(other_long));
    CHECK(*find(other_long) == usage(other_long, 10, 4, 0));
    REQUIRE(find(binary_key));
    CHECK(find(binary_key)->runs == 6);
    REQUIRE(find(std::string(300, 'e')));
    CHECK(find(std::string(300, 'e'))->runs == 7);
    REQUIRE(find(std::string(301, 'e')));
    CHECK(find(std::string(301, 'e'))->runs == 8);
  }
  // And after reopening the store.
  db.reset();
  db = open_store(dir.path());
  auto b = budgets_of(*db, "t");
  REQUIRE(b.size() == 5);
  auto same = [&](const budget_usage& u) {
    return u == usage(long_key, 10, 2, 2.5);
  };
  CHECK(std::count_if(b.begin(), b.end(), same) == 1);
}

TEST_CASE("store: a short budget key never shares a long key's slot",
          "[runtime][store][budget]") {
  // A key over 300 bytes is stored under "#" and its 64-bit FNV-1a hash; a
  // short key spelled like that hash (budget keys are rendered from event
  // data) must still count apart from it.
  std::string long_key(1000, 'k');
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : long_key)
    h = (h ^ c) * 1099511628211ull;
  char hex[17];
  for (int i = 15; i >= 0; --i, h >>= 4)
    hex[i] = "0123456789abcdef"[h & 15];
  std::string lookalike = "#" + std::string{hex, 16};
  test::temp_dir dir;
  auto db = open_store(dir.path());
  in_write(*db, [&](store::write_txn& txn) {
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage(long_key, 10, 1, 1)));
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage(lookalike, 10, 5, 5)));
    REQUIRE_FALSE(db->charge_budget(txn, "t", usage("#", 10, 2, 0)));
  });
  auto b = budgets_of(*db, "t");
  REQUIRE(b.size() == 3);
  CHECK(b[0] == usage("#", 10, 2, 0));
  CHECK(b[1] == usage(lookalike, 10, 5, 5));
  CHECK(b[2] == usage(long_key, 10, 1, 1));
}

TEST_CASE("journal: budget ops and run charges are stored",
          "[runtime][store][journal][budget]") {
  journal_fixture fx;
  store::journal j{*fx.db, {}, {}};
  auto wait = [](std::promise<caf::error>& p) {
    auto f = p.get_future();
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
  };
  {
    std::promise<caf::error> p;
    store::run_op op;
    op.run = make_run(1, "t");
    op.charge = {usage("", 100, 1, 0), usage("", 100, 0, 1.5)};
    op.done = [&](caf::error err) { p.set_value(std::move(err)); };
    j.submit(std::move(op));
    CHECK_FALSE(wait(p));
  }
  auto b = budgets_of(*fx.db, "t");
  REQUIRE(b.size() == 1);
  CHECK(b[0] == usage("", 100, 1, 1.5));
  {
    std::promise<caf::error> p;
    store::budget_op op;
    op.trigger = "t";
    op.usage = {usage("", 100, 0, 0), usage("k", 100, 2, 0)};
    op.done = [&](caf::error err) { p.set_value(std::move(err)); };
    j.submit(std::move(op));
    CHECK_FALSE(wait(p));
  }
  b = budgets_of(*fx.db, "t");
  REQUIRE(b.size() == 2);
  CHECK(b[0] == usage("", 100, 0, 0));
  CHECK(b[1] == usage("k", 100, 2, 0));
}

// --- codec: records written by older versions -------------------------------

namespace {

run_record full_record() {
  run_record x;
  x.id = "0000000000000007-t";
  x.trigger = "t";
  x.event_seq = 7;
  x.event_id = "ev-7";
  x.event_type = "demo.hello";
  x.state = static_cast<uint8_t>(run_state::succeeded);
  x.attempt = 2;
  x.exit_code = 0;
  x.term_signal = 0;
  x.stdout_text = "out";
  x.stderr_text = "err";
  x.output_truncated = true;
  x.error = "none";
  x.created_ns = 11;
  x.started_ns = 12;
  x.finished_ns = 13;
  x.history = {{0, 11, "created"}, {1, 12, "attempt 1"}, {2, 13, "exit 0"}};
  x.wait.kind = run_wait::sleep;
  x.wait.due_ns = 99;
  x.wait.pattern = R"({"type":["x"]})";
  x.wait.since_seq = 3;
  x.wait.start_seq = 4;
  x.wait.state = R"({"n":1})";
  x.wait.reason = "sleep";
  x.wait.event_seq = 5;
  x.wait.resumes = 1;
  x.flow.concurrency_key = "ck";
  x.flow.rate_key = "rk";
  x.flow.debounce_key = "dk";
  x.flow.batch_key = "bk";
  x.flow.singleton_key = "sk";
  x.flow.priority = -4;
  x.flow.batch = {7, 8, 9};
  x.flow.budget_key = "budget-key";
  x.cost = 1.25;
  return x;
}

// How the versions before wait, before flow control and before budgets
// stored a run: the fields of their run_record, in order.
enum class layout { through_history, through_wait, through_old_flow, current };

std::string encode_as(layout l, run_record x) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto err = sink(x.id, x.trigger, x.event_seq, x.event_id, x.event_type,
                  x.state, x.attempt, x.exit_code, x.term_signal, x.stdout_text,
                  x.stderr_text, x.output_truncated, x.error, x.created_ns,
                  x.started_ns, x.finished_ns, x.history);
  if (!err && l >= layout::through_wait)
    err = sink(x.wait);
  if (!err && l >= layout::through_old_flow)
    err = sink(x.flow.concurrency_key, x.flow.rate_key, x.flow.debounce_key,
               x.flow.batch_key, x.flow.singleton_key, x.flow.priority,
               x.flow.batch);
  if (!err && l >= layout::current)
    err = sink(x.flow.budget_key, x.cost);
  REQUIRE_FALSE(err);
  return {buf.begin(), buf.end()};
}

std::string_view view(const std::vector<char>& buf) {
  return {buf.data(), buf.size()};
}

} // namespace

TEST_CASE("codec: a run record round-trips", "[runtime][store][codec]") {
  auto x = full_record();
  auto bytes = store::encode(x);
  // The hand-written layout is what encode writes.
  CHECK(view(bytes) == encode_as(layout::current, x));
  run_record y;
  REQUIRE_FALSE(store::decode(view(bytes), y));
  CHECK(y == x);
  // decode resets what a previous record left in the target.
  run_record z = full_record();
  REQUIRE_FALSE(store::decode(view(store::encode(run_record{})), z));
  CHECK(z == run_record{});
}

TEST_CASE("codec: decodes run records written by older versions",
          "[runtime][store][codec]") {
  auto x = full_record();
  SECTION("before waits: the record ends after history") {
    run_record y = full_record(); // decode must not keep stale fields
    REQUIRE_FALSE(store::decode(encode_as(layout::through_history, x), y));
    run_record expected = x;
    expected.wait = {};
    expected.flow = {};
    expected.cost = 0;
    CHECK(y == expected);
    CHECK(y.history.size() == 3);
    CHECK(y.wait == run_wait{});
    CHECK(y.flow == run_flow{});
    CHECK(y.cost == 0);
  }
  SECTION("before flow control: the record ends after wait") {
    run_record y;
    REQUIRE_FALSE(store::decode(encode_as(layout::through_wait, x), y));
    run_record expected = x;
    expected.flow = {};
    expected.cost = 0;
    CHECK(y == expected);
    CHECK(y.wait == x.wait);
    CHECK(y.flow == run_flow{});
  }
  SECTION("before budgets: the record ends after the 7 flow fields") {
    run_record y;
    REQUIRE_FALSE(store::decode(encode_as(layout::through_old_flow, x), y));
    run_record expected = x;
    expected.flow.budget_key.clear();
    expected.cost = 0;
    CHECK(y == expected);
    CHECK(y.flow.batch == std::vector<uint64_t>{7, 8, 9});
    CHECK(y.flow.priority == -4);
    CHECK(y.flow.budget_key.empty());
    CHECK(y.cost == 0);
  }
  SECTION("an old record with an empty history and defaults") {
    run_record old;
    old.id = "x";
    for (auto l : {layout::through_history, layout::through_wait,
                   layout::through_old_flow}) {
      run_record y = full_record();
      REQUIRE_FALSE(store::decode(encode_as(l, old), y));
      CHECK(y == old);
    }
  }
}

TEST_CASE("codec: malformed run records are errors",
          "[runtime][store][codec]") {
  auto x = full_record();
  auto check_malformed = [](const std::string& bytes) {
    run_record y;
    auto err = store::decode(bytes, y);
    INFO(bytes.size() << " bytes");
    REQUIRE(err);
    CHECK(is(err, errc::storage_failure));
    CHECK(describe(err).find("malformed") != std::string::npos);
  };
  auto current = encode_as(layout::current, x);
  SECTION("trailing garbage after a current record") {
    check_malformed(current + "xyz");
    check_malformed(current + std::string(1, '\0'));
    check_malformed(current + std::string(100, '\0'));
  }
  SECTION("trailing garbage after an old record") {
    check_malformed(encode_as(layout::through_history, x) + "\x01");
    check_malformed(encode_as(layout::through_wait, x) + "\x01");
    check_malformed(encode_as(layout::through_old_flow, x) + "\x01");
  }
  SECTION("a record cut short inside a field") {
    check_malformed("");
    check_malformed(current.substr(0, 3));
    // Cut anywhere, a record is an error, except exactly at the end of a
    // group of fields: that is how an older version stored it.
    std::set<size_t> group_ends{encode_as(layout::through_history, x).size(),
                                encode_as(layout::through_wait, x).size(),
                                encode_as(layout::through_old_flow, x).size()};
    for (size_t n = 0; n < current.size(); ++n) {
      if (group_ends.count(n) != 0) {
        run_record y;
        CHECK_FALSE(store::decode(current.substr(0, n), y));
        continue;
      }
      check_malformed(current.substr(0, n));
    }
  }
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
