// Tests budgets in the LMDB store: charges adding up within and across
// transactions, windows replacing each other, keys of every length, the
// listing of one trigger's keys; and budget ops and run charges in the journal.
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "tests/runtime/store_test_support.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace rouse;
using namespace rouse::store_test;
using namespace std::chrono_literals;

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
