// Tests the timer window (eviction, refill, duplicates, the arm-vs-refill
// race, past-due arms, disarm of unknown keys), the store's `timers` database,
// wakeups in journal ops, and a seeded random run of window + store against a
// reference model.
#include "runtime/timer/timer_window.hpp"

#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <deque>
#include <future>
#include <map>
#include <random>
#include <variant>

using namespace rouse;
using timer::timer_window;

namespace {

wakeup make_wakeup(int64_t due, std::string owner, std::string payload = {}) {
  return wakeup{due, std::move(owner), std::move(payload)};
}

std::vector<wakeup_key> keys_of(const std::vector<wakeup>& ws) {
  std::vector<wakeup_key> out;
  for (auto& w : ws)
    out.push_back(w.key());
  return out;
}

std::unique_ptr<store::store> open_store(const std::string& dir) {
  store::store_options opts;
  opts.dir = dir;
  opts.map_size_bytes = 64ull << 20;
  opts.sync = false;
  auto s = store::store::open(opts);
  REQUIRE(s);
  return std::move(*s);
}

void put_all(store::store& db, const std::vector<wakeup>& ws) {
  auto txn = db.begin_write();
  REQUIRE(txn);
  for (auto& w : ws)
    REQUIRE_FALSE(db.put_wakeup(*txn, w));
  REQUIRE_FALSE(txn->commit());
}

void delete_all(store::store& db, const std::vector<wakeup_key>& keys) {
  auto txn = db.begin_write();
  REQUIRE(txn);
  for (auto& k : keys)
    REQUIRE(db.delete_wakeup(*txn, k));
  REQUIRE_FALSE(txn->commit());
}

// A window whose first (empty) refill is done: window_end is +infinity.
timer_window open_window(std::size_t capacity) {
  timer_window w{capacity};
  w.refill({}, w.refill_limit(100));
  REQUIRE_FALSE(w.window_end());
  return w;
}

} // namespace

// --- the window
// ---------------------------------------------------------------

TEST_CASE("timer_window: fires due wakeups in key order and none early",
          "[runtime][timer]") {
  auto w = open_window(10);
  CHECK(w.arm(make_wakeup(30, "b")));
  CHECK(w.arm(make_wakeup(10, "z")));
  CHECK(w.arm(make_wakeup(30, "a")));
  CHECK(w.arm(make_wakeup(50, "c")));
  CHECK(w.next_due() == 10);
  CHECK(w.take_due(9, 100).empty());
  auto due = w.take_due(30, 100);
  CHECK(keys_of(due)
        == std::vector<wakeup_key>{{10, "z"}, {30, "a"}, {30, "b"}});
  CHECK(w.next_due() == 50);
  CHECK(w.fired_size() == 3);
  SECTION("at most `max` per call") {
    w.arm(make_wakeup(40, "d"));
    CHECK(w.take_due(100, 1).size() == 1);
    CHECK(w.take_due(100, 1).front().owner == "c");
    CHECK(w.take_due(100, 1).empty());
  }
}

TEST_CASE("timer_window: arms before the first refill are left to the store",
          "[runtime][timer]") {
  timer_window w{10};
  REQUIRE(w.window_end() == wakeup_key{});
  CHECK(w.needs_refill());
  CHECK_FALSE(w.arm(make_wakeup(5, "a")));
  CHECK(w.size() == 0);
  w.refill({make_wakeup(5, "a")}, 10);
  CHECK(w.size() == 1);
  CHECK_FALSE(w.window_end());
  CHECK_FALSE(w.needs_refill());
}

TEST_CASE("timer_window: over capacity the largest keys are dropped",
          "[runtime][timer]") {
  auto w = open_window(3);
  for (int64_t due : {50, 10, 40, 20, 30})
    w.arm(make_wakeup(due, "o"));
  CHECK(w.size() == 3);
  REQUIRE(w.window_end());
  CHECK(*w.window_end() == wakeup_key{40, "o"});
  SECTION("an arm at or above window_end is ignored") {
    CHECK_FALSE(w.arm(make_wakeup(40, "o")));
    CHECK_FALSE(w.arm(make_wakeup(45, "o")));
    CHECK(w.size() == 3);
  }
  SECTION("an arm below window_end drops the largest held key") {
    CHECK(w.arm(make_wakeup(15, "o")));
    CHECK(*w.window_end() == wakeup_key{30, "o"});
    CHECK(keys_of(w.take_due(100, 10))
          == std::vector<wakeup_key>{{10, "o"}, {15, "o"}, {20, "o"}});
  }
  SECTION("an arm that is itself the largest is not held") {
    CHECK_FALSE(w.arm(make_wakeup(35, "o")));
    CHECK(*w.window_end() == wakeup_key{35, "o"});
  }
}

TEST_CASE("timer_window: refills load above window_end until the store ends",
          "[runtime][timer]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  std::vector<wakeup> all;
  for (int i = 0; i < 10; ++i)
    all.push_back(make_wakeup(100 + i, "run/" + std::to_string(i), "p"));
  put_all(*db, all);
  timer_window w{4};
  REQUIRE_FALSE(timer::refill_from(*db, w, 100));
  CHECK(w.size() == 4);
  REQUIRE(w.window_end());
  CHECK(w.low_water() == 2);
  CHECK_FALSE(w.needs_refill());
  std::vector<wakeup> fired;
  for (int64_t now = 100; now < 120; ++now) {
    while (w.needs_refill())
      REQUIRE_FALSE(timer::refill_from(*db, w, 3));
    for (auto& x : w.take_due(now, 100))
      fired.push_back(std::move(x));
  }
  CHECK(fired == all);
  CHECK_FALSE(w.window_end());
  CHECK(w.size() == 0);
}

TEST_CASE("timer_window: a key is held once however often it arrives",
          "[runtime][timer]") {
  auto w = open_window(10);
  CHECK(w.arm(make_wakeup(10, "a", "first")));
  CHECK(w.arm(make_wakeup(10, "a", "second")));
  CHECK(w.size() == 1);
  SECTION("a refill delivering an armed key") {
    timer_window v{10};
    v.refill({make_wakeup(10, "a"), make_wakeup(20, "b")}, 2);
    REQUIRE(v.window_end());
    CHECK(v.arm(make_wakeup(10, "a")));
    CHECK(v.arm(make_wakeup(20, "b")));
    CHECK(v.size() == 2);
  }
  CHECK(w.take_due(100, 10).size() == 1);
}

TEST_CASE("timer_window: an arm arriving after its refilled wakeup fired is "
          "ignored",
          "[runtime][timer]") {
  // The owner commits W and sends arm(W); before the message arrives, a refill
  // reads W from the store and W fires.
  timer_window w{10};
  w.refill({make_wakeup(10, "run/a")}, 10);
  REQUIRE(w.take_due(10, 10).size() == 1);
  CHECK_FALSE(w.arm(make_wakeup(10, "run/a")));
  CHECK(w.take_due(100, 10).empty());
  SECTION("after the owner's disarm the key can be armed again") {
    w.disarm({10, "run/a"});
    CHECK(w.fired_size() == 0);
    CHECK(w.arm(make_wakeup(10, "run/a")));
    CHECK(w.take_due(100, 10).size() == 1);
  }
}

TEST_CASE("timer_window: a refill after eviction skips fired keys",
          "[runtime][timer]") {
  // F fires but is not yet deleted by its owner; past-due arms then overflow
  // the window and lower window_end below F, so the next refill reads F.
  auto w = open_window(2);
  w.arm(make_wakeup(100, "f"));
  REQUIRE(w.take_due(100, 10).size() == 1);
  for (int64_t due : {10, 20, 30})
    w.arm(make_wakeup(due, "p"));
  REQUIRE(*w.window_end() == wakeup_key{30, "p"});
  w.take_due(100, 10);
  w.refill({make_wakeup(30, "p"), make_wakeup(100, "f")}, 10);
  CHECK(keys_of(w.take_due(1000, 10)) == std::vector<wakeup_key>{{30, "p"}});
}

TEST_CASE("timer_window: past-due arms fire first", "[runtime][timer]") {
  auto w = open_window(10);
  w.arm(make_wakeup(500, "later"));
  w.arm(make_wakeup(5, "past"));
  CHECK(w.next_due() == 5);
  CHECK(keys_of(w.take_due(400, 10)) == std::vector<wakeup_key>{{5, "past"}});
}

TEST_CASE("timer_window: disarm of an unknown or evicted key changes nothing",
          "[runtime][timer]") {
  auto w = open_window(2);
  w.arm(make_wakeup(10, "a"));
  w.arm(make_wakeup(20, "b"));
  w.arm(make_wakeup(30, "c")); // evicted
  auto end = w.window_end();
  CHECK_FALSE(w.disarm({30, "c"}));
  CHECK_FALSE(w.disarm({99, "nobody"}));
  CHECK(w.size() == 2);
  CHECK(w.window_end() == end);
  CHECK(w.disarm({10, "a"}));
  CHECK(keys_of(w.take_due(100, 10)) == std::vector<wakeup_key>{{20, "b"}});
}

TEST_CASE("timer_window: the fired set is bounded by capacity",
          "[runtime][timer]") {
  auto w = open_window(3);
  for (int64_t i = 0; i < 10; ++i) {
    w.arm(make_wakeup(i, "o"));
    w.take_due(i, 10);
  }
  CHECK(w.fired_size() == 3);
}

// --- the store's timers database
// --------------------------------------------

TEST_CASE("store: wakeups are read back in (due, owner) order",
          "[runtime][timer][store]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  put_all(*db, {make_wakeup(300, "b", "x"), make_wakeup(1, "z"),
                make_wakeup(300, "a", std::string("\0\1", 2)),
                make_wakeup(int64_t{1} << 40, "far")});
  auto all = db->read_wakeups({}, 100);
  REQUIRE(all);
  CHECK(keys_of(*all)
        == std::vector<wakeup_key>{
            {1, "z"}, {300, "a"}, {300, "b"}, {int64_t{1} << 40, "far"}});
  CHECK((*all)[1].payload == std::string("\0\1", 2));
  CHECK(db->count_wakeups() == uint64_t{4});
  SECTION("from a bound, with a limit") {
    auto some = db->read_wakeups({300, std::string("a\0", 2)}, 1);
    REQUIRE(some);
    CHECK(keys_of(*some) == std::vector<wakeup_key>{{300, "b"}});
    auto from_neg = db->read_wakeups({-5, "zzz"}, 1);
    REQUIRE(from_neg);
    CHECK(keys_of(*from_neg) == std::vector<wakeup_key>{{1, "z"}});
    auto long_bound = db->read_wakeups({300, std::string(600, 'a')}, 10);
    REQUIRE(long_bound);
    CHECK(long_bound->size() == 2);
  }
  SECTION("put replaces, delete removes, and both survive reopening") {
    put_all(*db, {make_wakeup(1, "z", "new")});
    delete_all(*db, {{300, "b"}});
    auto txn = db->begin_write();
    REQUIRE(txn);
    CHECK(db->delete_wakeup(*txn, {300, "b"}) == false);
    txn->abort();
    db.reset();
    db = open_store(dir.path());
    auto again = db->read_wakeups({}, 100);
    REQUIRE(again);
    REQUIRE(again->size() == 3);
    CHECK(again->front().payload == "new");
  }
}

TEST_CASE("store: invalid wakeups are refused with invalid_input",
          "[runtime][timer][store]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  auto txn = db->begin_write();
  REQUIRE(txn);
  CHECK(is(db->put_wakeup(*txn, make_wakeup(-1, "a")), errc::invalid_input));
  CHECK(is(db->put_wakeup(*txn, make_wakeup(1, "")), errc::invalid_input));
  CHECK(is(
      db->put_wakeup(
          *txn,
          make_wakeup(1, std::string(store::max_wakeup_owner_bytes + 1, 'o'))),
      errc::invalid_input));
  CHECK_FALSE(db->put_wakeup(
      *txn, make_wakeup(1, std::string(store::max_wakeup_owner_bytes, 'o'))));
  auto del = db->delete_wakeup(*txn, {-3, "a"});
  REQUIRE_FALSE(del);
  CHECK(is(del.error(), errc::invalid_input));
  REQUIRE_FALSE(txn->commit());
  CHECK(db->count_wakeups() == uint64_t{1});
}

TEST_CASE("journal: wakeups commit with their run, or not at all",
          "[runtime][timer][store]") {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  store::journal j{*db, {}, {}};
  auto submit = [&](store::write_op op) {
    auto p = std::make_shared<std::promise<caf::error>>();
    auto f = p->get_future();
    std::visit(
        [&](auto& x) {
          if constexpr (requires { x.arm; })
            x.done = [p](caf::error err) { p->set_value(std::move(err)); };
        },
        op);
    j.submit(std::move(op));
    return f.get();
  };
  run_record run;
  run.id = make_run_id(7, "sleeper");
  run.trigger = "sleeper";
  run.transition(run_state::waiting, 1);
  SECTION("a run_op stores the run and its wakeup together") {
    store::run_op op;
    op.run = run;
    op.arm = {make_wakeup(1000, "run/" + run.id, "sleep")};
    CHECK_FALSE(submit(std::move(op)));
    CHECK(db->count_wakeups() == uint64_t{1});
    auto stored = db->get_run(run.id);
    REQUIRE(stored);
    CHECK(stored->has_value());
    store::wakeup_op move;
    move.disarm = {{1000, "run/" + run.id}};
    move.arm = {make_wakeup(2000, "run/" + run.id)};
    CHECK_FALSE(submit(std::move(move)));
    auto ws = db->read_wakeups({}, 10);
    REQUIRE(ws);
    CHECK(keys_of(*ws) == std::vector<wakeup_key>{{2000, "run/" + run.id}});
  }
  SECTION("an invalid wakeup fails the whole run_op") {
    store::run_op op;
    op.run = run;
    op.arm = {make_wakeup(1000, "run/" + run.id), make_wakeup(-1, "bad")};
    CHECK(is(submit(std::move(op)), errc::invalid_input));
    CHECK(db->count_wakeups() == uint64_t{0});
    auto stored = db->get_run(run.id);
    REQUIRE(stored);
    CHECK_FALSE(stored->has_value());
  }
}

// --- window + store against a reference model
// -------------------------------

TEST_CASE("timer_window: a seeded random run fires every stored wakeup once",
          "[runtime][timer]") {
  // Arm and disarm messages reach the window late (after their commit) in
  // FIFO order, as actor messages from the journal thread do; fired wakeups
  // are deleted by their owner, whose disarm also arrives late.
  test::temp_dir dir;
  auto db = open_store(dir.path());
  auto seed = GENERATE(1u, 2u, 3u);
  std::mt19937 rng{seed};
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  timer_window w{8};
  struct key_state {
    bool stored = false;
    bool fired = false; // since it was last armed
  };
  std::map<wakeup_key, key_state> model;
  std::deque<std::variant<wakeup, wakeup_key>> pending;
  int64_t now = 0;
  std::size_t fires = 0;
  auto deliver_one = [&] {
    auto msg = std::move(pending.front());
    pending.pop_front();
    if (auto* x = std::get_if<wakeup>(&msg))
      w.arm(std::move(*x));
    else
      w.disarm(std::get<wakeup_key>(msg));
  };
  auto pump = [&] {
    for (;;) {
      while (w.needs_refill())
        REQUIRE_FALSE(timer::refill_from(*db, w, 5));
      auto due = w.take_due(now, 3);
      if (due.empty())
        return;
      for (std::size_t i = 0; i < due.size(); ++i) {
        auto key = due[i].key();
        REQUIRE(key.due_ns <= now);
        if (i > 0)
          REQUIRE(due[i - 1].key() < key);
        auto& st = model[key];
        // Firing a wakeup deleted while its disarm is in flight is allowed.
        if (!st.stored)
          continue;
        REQUIRE_FALSE(st.fired);
        st.fired = true;
        ++fires;
        delete_all(*db, {key});
        st.stored = false;
        pending.emplace_back(key);
        while (pending.size() > 4)
          deliver_one();
      }
    }
  };
  for (int step = 0; step < 1500; ++step) {
    switch (pick(6)) {
    case 0:
    case 1: {
      wakeup_key key{now - 20 + pick(200), "o" + std::to_string(pick(6))};
      key.due_ns = std::max<int64_t>(key.due_ns, 0);
      auto& st = model[key];
      bool in_flight = false;
      for (auto& m : pending)
        if (auto* k = std::get_if<wakeup_key>(&m); k && *k == key)
          in_flight = true;
      if (st.stored || in_flight)
        break;
      put_all(*db, {make_wakeup(key.due_ns, key.owner)});
      st = key_state{true, false};
      pending.emplace_back(make_wakeup(key.due_ns, key.owner));
      break;
    }
    case 2: {
      std::vector<wakeup_key> stored;
      for (auto& [k, st] : model)
        if (st.stored && !st.fired)
          stored.push_back(k);
      if (stored.empty())
        break;
      auto key = stored[pick(static_cast<int>(stored.size()))];
      delete_all(*db, {key});
      model[key].stored = false;
      pending.emplace_back(key);
      break;
    }
    case 3:
      if (!pending.empty())
        deliver_one();
      break;
    default: now += pick(15); pump();
    }
    if (step % 100 == 99) {
      while (!pending.empty())
        deliver_one();
      pump();
      for (auto& [k, st] : model)
        if (st.stored && k.due_ns <= now)
          FAIL("not fired: " << k.due_ns << " " << k.owner);
    }
  }
  CHECK(fires > 100);
}
