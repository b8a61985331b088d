// The governor's scheduler on explicit time: every policy, decided without a
// clock or an actor.
#include "runtime/flow/scheduler.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace rouse;
using namespace rouse::flow;

namespace {

constexpr int64_t ms = 1'000'000;

item run(uint64_t seq, int64_t at_ms = 0, std::string key = {}) {
  item x;
  x.run_id = "r" + std::to_string(seq);
  x.seq = seq;
  x.arrived_ns = at_ms * ms;
  x.keys.concurrency_key = key;
  x.keys.rate_key = key;
  x.keys.debounce_key = key;
  x.keys.batch_key = key;
  x.keys.singleton_key = key;
  x.keys.budget_key = key;
  return x;
}

/// Runs of `kind` in `out`, in order, as "r1 r2 ...".
std::string ids(const std::vector<decision>& out, decision::kind_t kind) {
  std::string s;
  for (const auto& d : out)
    if (d.kind == kind)
      s += (s.empty() ? "" : " ") + d.run_id;
  return s;
}

std::string launched(const std::vector<decision>& out) {
  return ids(out, decision::launch);
}

std::string skipped(const std::vector<decision>& out) {
  return ids(out, decision::skip);
}

const decision* find(const std::vector<decision>& out, const std::string& id) {
  for (const auto& d : out)
    if (d.run_id == id)
      return &d;
  return nullptr;
}

} // namespace

TEST_CASE("flow: with no policy every run starts at once, in order", "[flow]") {
  scheduler s{settings{}};
  std::vector<decision> out;
  for (uint64_t i = 1; i <= 3; ++i)
    s.admit(run(i), 0, out);
  CHECK(launched(out) == "r1 r2 r3");
  CHECK(s.running() == 3);
  CHECK_FALSE(s.next_due());
}

TEST_CASE("flow: a duplicate admission is ignored", "[flow]") {
  settings cfg;
  cfg.concurrency = 1;
  scheduler s{cfg};
  std::vector<decision> out;
  s.admit(run(1), 0, out);
  s.admit(run(2), 0, out);
  s.admit(run(1), 0, out);
  s.admit(run(2), 0, out);
  CHECK(launched(out) == "r1");
  CHECK(s.queued() == 1);
  out.clear();
  s.release("r1", 0, out);
  CHECK(launched(out) == "r2");
  CHECK(s.queued() == 0);
}

TEST_CASE("flow: a trigger-wide limit starts runs in journal order", "[flow]") {
  settings cfg;
  cfg.concurrency = 2;
  scheduler s{cfg};
  std::vector<decision> out;
  for (uint64_t i : {3, 1, 4, 2, 5})
    s.admit(run(i), 0, out);
  CHECK(launched(out) == "r3 r1");
  out.clear();
  s.release("r5", 0, out); // not running: ignored
  s.release("r3", 0, out);
  s.release("r1", 0, out);
  CHECK(launched(out) == "r2 r4");
  out.clear();
  s.release("r2", 0, out);
  CHECK(launched(out) == "r5");
  CHECK(s.running() == 2);
}

TEST_CASE("flow: a keyed limit holds each key without blocking others",
          "[flow]") {
  settings cfg;
  cfg.concurrency = 1;
  cfg.concurrency_keyed = true;
  scheduler s{cfg};
  std::vector<decision> out;
  s.admit(run(1, 0, "a"), 0, out);
  s.admit(run(2, 0, "a"), 0, out);
  s.admit(run(3, 0, "b"), 0, out);
  s.admit(run(5, 0, "a"), 0, out);
  s.admit(run(4, 0, "a"), 0, out); // admitted late, still before r5
  CHECK(launched(out) == "r1 r3");
  out.clear();
  s.release("r3", 0, out);
  CHECK(launched(out).empty());
  s.release("r1", 0, out);
  CHECK(launched(out) == "r2");
  out.clear();
  s.release("r5", 0, out); // not running yet: ignored
  s.release("r2", 0, out);
  CHECK(launched(out) == "r4");
  out.clear();
  s.release("r4", 0, out);
  CHECK(launched(out) == "r5");
}

TEST_CASE("flow: rate delay spaces runs out after a burst of limit", "[flow]") {
  settings cfg;
  cfg.rate_limit = 2;
  cfg.rate_per_ns = 1000 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  for (uint64_t i = 1; i <= 5; ++i)
    s.admit(run(i), 0, out);
  CHECK(launched(out) == "r1 r2");
  REQUIRE(s.next_due() == 500 * ms);
  out.clear();
  s.advance(499 * ms, out);
  CHECK(out.empty());
  s.advance(500 * ms, out);
  CHECK(launched(out) == "r3");
  CHECK(s.next_due() == 1000 * ms);
  out.clear();
  // A quiet second refills the bucket: a burst of two again.
  s.advance(2000 * ms, out);
  CHECK(launched(out) == "r4 r5");
  CHECK_FALSE(s.next_due());
  out.clear();
  s.admit(run(6), 2000 * ms, out);
  CHECK(launched(out).empty());
  CHECK(s.next_due() == 2500 * ms);
}

TEST_CASE("flow: rate keys have their own buckets", "[flow]") {
  settings cfg;
  cfg.rate_limit = 1;
  cfg.rate_per_ns = 1000 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  s.admit(run(1, 0, "a"), 0, out);
  s.admit(run(2, 0, "a"), 0, out);
  s.admit(run(3, 0, "b"), 0, out);
  CHECK(launched(out) == "r1 r3");
  out.clear();
  s.advance(1000 * ms, out);
  CHECK(launched(out) == "r2");
}

TEST_CASE("flow: rate buckets carry over a restart through rate_memo",
          "[flow]") {
  settings cfg;
  cfg.rate_limit = 2;
  cfg.rate_per_ns = 1000 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  s.admit(run(1), 0, out);
  s.admit(run(2), 0, out);
  CHECK(launched(out) == "r1 r2");
  auto memo = s.rate_memo("");
  REQUIRE(memo);
  CHECK(*memo == 1000 * ms);
  CHECK_FALSE(s.rate_memo("other"));
  // Restarted 100 ms later with what was stored: no fresh burst, the next
  // token comes at 500 ms as it would have.
  scheduler restarted{cfg};
  restarted.load_rate({{"", *memo}}, 100 * ms);
  out.clear();
  restarted.admit(run(3), 100 * ms, out);
  CHECK(launched(out).empty());
  CHECK(restarted.next_due() == 500 * ms);
  // A stored time that passed is a full bucket.
  scheduler later{cfg};
  later.load_rate({{"", *memo}}, 5000 * ms);
  out.clear();
  later.admit(run(4), 5000 * ms, out);
  later.admit(run(5), 5000 * ms, out);
  CHECK(launched(out) == "r4 r5");
  // Without a rate limit there is nothing to store.
  scheduler none{settings{}};
  out.clear();
  none.admit(run(6), 0, out);
  CHECK_FALSE(none.rate_memo(""));
}

TEST_CASE("flow: rate drop skips what is over the rate", "[flow]") {
  settings cfg;
  cfg.rate_limit = 2;
  cfg.rate_per_ns = 1000 * ms;
  cfg.rate_drop = true;
  scheduler s{cfg};
  std::vector<decision> out;
  for (uint64_t i = 1; i <= 4; ++i)
    s.admit(run(i), 0, out);
  CHECK(launched(out) == "r1 r2");
  CHECK(skipped(out) == "r3 r4");
  CHECK(find(out, "r3")->reason == "rate limit: over 2 per 1s");
  CHECK_FALSE(s.next_due());
  out.clear();
  s.admit(run(5), 500 * ms, out);
  s.admit(run(6), 500 * ms, out);
  CHECK(launched(out) == "r5");
  CHECK(skipped(out) == "r6");
}

TEST_CASE("flow: debounce runs the last event after a quiet period", "[flow]") {
  settings cfg;
  cfg.debounce_ns = 100 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  s.admit(run(1, 0), 0, out);
  s.admit(run(2, 50), 50 * ms, out);
  s.admit(run(3, 120), 120 * ms, out);
  CHECK(skipped(out) == "r1 r2");
  CHECK(find(out, "r1")->reason == "debounced: superseded by run r2");
  CHECK(launched(out).empty());
  REQUIRE(s.next_due() == 220 * ms);
  out.clear();
  s.advance(219 * ms, out);
  CHECK(out.empty());
  s.advance(220 * ms, out);
  CHECK(launched(out) == "r3");
  CHECK(s.held() == 0);
}

TEST_CASE("flow: debounce never waits longer than max_wait", "[flow]") {
  settings cfg;
  cfg.debounce_ns = 100 * ms;
  cfg.debounce_max_wait_ns = 250 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  uint64_t seq = 0;
  // An event every 50 ms never leaves a quiet period.
  for (int64_t t = 0; t <= 400; t += 50) {
    s.advance(t * ms, out);
    s.admit(run(++seq, t), t * ms, out);
  }
  // The burst from 0 ms is cut at 250 ms with its last event so far (r5,
  // 200 ms); r6 (250 ms) starts the next burst, cut at 500 ms.
  CHECK(launched(out) == "r5");
  CHECK(skipped(out) == "r1 r2 r3 r4 r6 r7 r8");
  CHECK(s.next_due() == 500 * ms);
  out.clear();
  s.advance(500 * ms, out);
  CHECK(launched(out) == "r9");
}

TEST_CASE("flow: debounce keys are independent", "[flow]") {
  settings cfg;
  cfg.debounce_ns = 100 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  s.admit(run(1, 0, "a"), 0, out);
  s.admit(run(2, 10, "b"), 10 * ms, out);
  s.admit(run(3, 20, "a"), 20 * ms, out);
  CHECK(skipped(out) == "r1");
  out.clear();
  s.advance(200 * ms, out);
  CHECK(launched(out) == "r2 r3");
}

TEST_CASE("flow: batch folds events into one run when full or late", "[flow]") {
  settings cfg;
  cfg.batch_max = 3;
  cfg.batch_wait_ns = 1000 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  for (uint64_t i = 1; i <= 4; ++i)
    s.admit(run(i, 10 * static_cast<int64_t>(i)),
            10 * static_cast<int64_t>(i) * ms, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == decision::batch);
  CHECK(out[0].run_id == "r1");
  CHECK(out[0].members == std::vector<std::string>{"r2", "r3"});
  CHECK(s.held() == 1);
  // r4 waits for company until 1 s after it arrived.
  CHECK(s.next_due() == 1040 * ms);
  out.clear();
  s.advance(1040 * ms, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == decision::batch);
  CHECK(out[0].run_id == "r4");
  CHECK(out[0].members.empty());
  // Once stored, a batch comes back and starts.
  out.clear();
  auto again = run(1, 10);
  again.fresh = false;
  s.admit(again, 1040 * ms, out);
  CHECK(launched(out) == "r1");
}

TEST_CASE("flow: readmitted runs skip debounce and batch", "[flow]") {
  settings cfg;
  cfg.debounce_ns = 100 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  auto retry = run(1);
  retry.fresh = false;
  s.admit(retry, 0, out);
  CHECK(launched(out) == "r1");
}

TEST_CASE("flow: priority starts higher first, journal order within one",
          "[flow]") {
  settings cfg;
  cfg.concurrency = 1;
  cfg.priority = true;
  scheduler s{cfg};
  std::vector<decision> out;
  auto prio = [](uint64_t seq, int64_t p) {
    auto x = run(seq);
    x.keys.priority = p;
    return x;
  };
  s.admit(prio(1, 0), 0, out);
  s.admit(prio(2, 1), 0, out);
  s.admit(prio(3, 5), 0, out);
  s.admit(prio(4, 3), 0, out);
  s.admit(prio(5, 5), 0, out);
  std::string order = launched(out);
  for (auto id : {"r1", "r3", "r5", "r4", "r2"}) {
    out.clear();
    s.release(id, 0, out);
    order += " " + launched(out);
  }
  CHECK(order == "r1 r3 r5 r4 r2 ");
}

TEST_CASE("flow: aging lets a long-waiting low priority go first", "[flow]") {
  settings cfg;
  cfg.concurrency = 1;
  cfg.priority = true;
  cfg.aging_ns = 1000 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  auto prio = [](uint64_t seq, int64_t at_ms, int64_t p) {
    auto x = run(seq, at_ms);
    x.keys.priority = p;
    return x;
  };
  s.admit(prio(1, 0, 0), 0, out);       // runs
  s.admit(prio(2, 0, 0), 0, out);       // waits 10 s: worth 0 + 10
  s.admit(prio(3, 10'000, 5), 0, out);  // fresh, worth 5
  s.admit(prio(4, 10'000, 20), 0, out); // fresh, worth 20
  out.clear();
  s.release("r1", 10'000 * ms, out);
  CHECK(launched(out) == "r4");
  out.clear();
  s.release("r4", 10'000 * ms, out);
  CHECK(launched(out) == "r2");
}

TEST_CASE("flow: singleton skip drops runs while one is active", "[flow]") {
  settings cfg;
  cfg.singleton = true;
  scheduler s{cfg};
  std::vector<decision> out;
  s.admit(run(1, 0, "a"), 0, out);
  s.admit(run(2, 0, "a"), 0, out);
  s.admit(run(3, 0, "b"), 0, out);
  CHECK(launched(out) == "r1 r3");
  CHECK(skipped(out) == "r2");
  CHECK(find(out, "r2")->reason == "singleton: run r1 is active (key \"a\")");
  out.clear();
  s.release("r1", 0, out);
  s.admit(run(4, 0, "a"), 0, out);
  CHECK(launched(out) == "r4");
}

TEST_CASE("flow: singleton cancel replaces queued and next runs", "[flow]") {
  settings cfg;
  cfg.singleton = true;
  cfg.singleton_cancel = true;
  cfg.concurrency = 1;
  scheduler s{cfg};
  std::vector<decision> out;
  s.admit(run(1, 0, "x"), 0, out); // holds the only slot
  s.admit(run(2, 0, "a"), 0, out); // queued
  s.admit(run(3, 0, "a"), 0, out); // replaces the queued r2
  CHECK(launched(out) == "r1");
  CHECK(skipped(out) == "r2");
  CHECK(find(out, "r2")->reason == "singleton: replaced by run r3 (key \"a\")");
  out.clear();
  s.release("r1", 0, out);
  CHECK(launched(out) == "r3");
  // r3 runs: a new one waits next, and a newer one replaces it.
  out.clear();
  s.admit(run(4, 0, "a"), 0, out);
  s.admit(run(5, 0, "a"), 0, out);
  CHECK(launched(out).empty());
  CHECK(skipped(out) == "r4");
  // The running r3 is stopped, once.
  CHECK(ids(out, decision::stop) == "r3");
  CHECK(find(out, "r3")->reason == "singleton: replaced by run r4 (key \"a\")");
  out.clear();
  s.release("r3", 0, out);
  CHECK(launched(out) == "r5");
  s.admit(run(6, 0, "a"), 0, out);
  CHECK(ids(out, decision::stop) == "r5");
}

TEST_CASE("flow: a full queue rejects, drops the oldest or keeps the latest",
          "[flow]") {
  settings cfg;
  cfg.concurrency = 1;
  cfg.queue_max = 2;
  SECTION("reject") {
    scheduler s{cfg};
    std::vector<decision> out;
    for (uint64_t i = 1; i <= 4; ++i)
      s.admit(run(i), 0, out);
    CHECK(launched(out) == "r1");
    CHECK(ids(out, decision::reject) == "r4");
    CHECK(find(out, "r4")->reason == "queue full (max 2)");
    CHECK(s.queued() == 2);
  }
  SECTION("drop_oldest") {
    cfg.on_full = settings::drop_oldest;
    scheduler s{cfg};
    std::vector<decision> out;
    for (uint64_t i = 1; i <= 5; ++i)
      s.admit(run(i), 0, out);
    CHECK(skipped(out) == "r2 r3");
    out.clear();
    s.release("r1", 0, out);
    CHECK(launched(out) == "r4");
  }
  SECTION("latest_wins replaces the newest waiting run of the key") {
    cfg.on_full = settings::latest_wins;
    cfg.concurrency_keyed = true;
    scheduler s{cfg};
    std::vector<decision> out;
    s.admit(run(1, 0, "a"), 0, out);
    s.admit(run(2, 0, "a"), 0, out);
    s.admit(run(3, 0, "b"), 0, out); // starts: b is free
    s.admit(run(4, 0, "b"), 0, out);
    s.admit(run(5, 0, "a"), 0, out); // full: replaces r2
    CHECK(launched(out) == "r1 r3");
    CHECK(skipped(out) == "r2");
    out.clear();
    s.release("r1", 0, out);
    CHECK(launched(out) == "r5");
  }
}

TEST_CASE("flow: reconfigure keeps order and slots", "[flow]") {
  settings cfg;
  cfg.concurrency = 1;
  scheduler s{cfg};
  std::vector<decision> out;
  for (uint64_t i = 1; i <= 4; ++i)
    s.admit(run(i), 0, out);
  CHECK(launched(out) == "r1");
  out.clear();
  cfg.concurrency = 3;
  s.reconfigure(cfg, 0, out);
  CHECK(launched(out) == "r2 r3");
  CHECK(s.running() == 3);
  out.clear();
  s.release("r1", 0, out);
  CHECK(launched(out) == "r4");
}

TEST_CASE("flow: the circuit breaker opens, probes and closes", "[flow]") {
  settings cfg;
  cfg.concurrency = 1;
  cfg.circuit_failures = 2;
  cfg.circuit_cool_ns = 1000 * ms;
  scheduler s{cfg};
  std::vector<decision> out;
  for (uint64_t i = 1; i <= 5; ++i)
    s.admit(run(i), 0, out);
  CHECK(launched(out) == "r1");
  out.clear();
  s.release("r1", 0, out, false);
  CHECK(launched(out) == "r2");
  out.clear();
  s.release("r2", 10 * ms, out, false);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == decision::circuit_open);
  CHECK(out[0].reason == "2 consecutive failures, the last run r2");
  CHECK(std::string{s.circuit()} == "open");
  CHECK(s.next_due() == 1010 * ms);
  out.clear();
  s.advance(1009 * ms, out);
  CHECK(out.empty());
  // Half open: one probe, and nothing else while it runs.
  s.advance(1010 * ms, out);
  CHECK(launched(out) == "r3");
  CHECK(std::string{s.circuit()} == "half_open");
  out.clear();
  s.release("r3", 1100 * ms, out, false);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == decision::circuit_open);
  CHECK(out[0].reason == "probe run r3 failed");
  out.clear();
  s.advance(2100 * ms, out);
  CHECK(launched(out) == "r4");
  out.clear();
  s.release("r4", 2200 * ms, out, true);
  REQUIRE(out.size() == 2);
  CHECK(out[0].kind == decision::circuit_closed);
  CHECK(out[1].kind == decision::launch);
  CHECK(out[1].run_id == "r5");
  CHECK(std::string{s.circuit()} == "closed");
}

TEST_CASE("flow: an open circuit in dlq mode rejects new runs", "[flow]") {
  settings cfg;
  cfg.circuit_failures = 1;
  cfg.circuit_cool_ns = 1000 * ms;
  cfg.circuit_dlq = true;
  scheduler s{cfg};
  std::vector<decision> out;
  s.admit(run(1), 0, out);
  s.release("r1", 0, out, false);
  out.clear();
  s.admit(run(2), 0, out);
  CHECK(ids(out, decision::reject) == "r2");
  CHECK(out[0].reason == "circuit open after 1 consecutive failures");
  // A retry of a run admitted before waits instead.
  out.clear();
  auto retry = run(3);
  retry.fresh = false;
  s.admit(retry, 0, out);
  CHECK(out.empty());
  s.advance(1000 * ms, out);
  CHECK(launched(out) == "r3");
}

namespace {

std::string exceeded(const std::vector<decision>& out) {
  return ids(out, decision::budget_exceeded);
}

/// How many budget_exceeded decisions `out` holds.
std::size_t told(const std::vector<decision>& out) {
  return static_cast<std::size_t>(
      std::count_if(out.begin(), out.end(), [](const decision& d) {
        return d.kind == decision::budget_exceeded;
      }));
}

settings budget(uint64_t runs, double cost, bool keyed = false) {
  settings cfg;
  cfg.budget_runs = runs;
  cfg.budget_cost = cost;
  cfg.budget_per_ns = 1000 * ms;
  cfg.budget_keyed = keyed;
  return cfg;
}

} // namespace

TEST_CASE("flow: a run budget holds runs until the next window", "[flow]") {
  scheduler s{budget(2, 0)};
  std::vector<decision> out;
  for (uint64_t i = 1; i <= 3; ++i)
    s.admit(run(i, 100), 100 * ms, out);
  CHECK(launched(out) == "r1 r2");
  // Told once, with what was spent; the third run waits for the window.
  REQUIRE(told(out) == 1);
  CHECK(out.back().kind == decision::budget_exceeded);
  CHECK(out.back().reason.find("2 of 2 runs") != std::string::npos);
  CHECK(s.queued() == 1);
  REQUIRE(s.next_due());
  CHECK(*s.next_due() == 1000 * ms);
  // Releasing a run frees no budget.
  out.clear();
  s.release("r1", 500 * ms, out, true);
  s.advance(999 * ms, out);
  CHECK(launched(out).empty());
  s.advance(1000 * ms, out);
  CHECK(launched(out) == "r3");
  CHECK(told(out) == 0);
}

TEST_CASE("flow: retries do not count against a run budget but wait for it",
          "[flow]") {
  scheduler s{budget(1, 0)};
  std::vector<decision> out;
  auto again = run(1);
  again.fresh = false;
  again.counts = false;
  s.admit(again, 0, out);
  s.admit(run(2), 0, out);
  CHECK(launched(out) == "r1 r2");
  out.clear();
  auto retry = run(3);
  retry.fresh = false;
  retry.counts = false;
  s.admit(retry, 10 * ms, out);
  CHECK(launched(out).empty());
  s.advance(1000 * ms, out);
  CHECK(launched(out) == "r3");
}

TEST_CASE("flow: a cost budget adds up reported costs", "[flow]") {
  scheduler s{budget(0, 1.0)};
  std::vector<decision> out;
  s.admit(run(1), 0, out);
  s.release("r1", 10 * ms, out, true, 0.6);
  s.admit(run(2), 20 * ms, out);
  CHECK(launched(out) == "r1 r2");
  CHECK(told(out) == 0);
  s.release("r2", 30 * ms, out, true, 0.5);
  REQUIRE(out.back().kind == decision::budget_exceeded);
  CHECK(out.back().reason.find("cost 1.1 of 1") != std::string::npos);
  out.clear();
  s.admit(run(3), 40 * ms, out);
  CHECK(launched(out).empty());
  auto spent = s.budget_spent(40 * ms);
  REQUIRE(spent.size() == 1);
  CHECK(spent[0].runs == 2);
  CHECK(spent[0].cost == Approx(1.1));
  s.advance(1000 * ms, out);
  CHECK(launched(out) == "r3");
}

TEST_CASE("flow: budget keys spend on their own", "[flow]") {
  scheduler s{budget(1, 0, true)};
  std::vector<decision> out;
  s.admit(run(1, 0, "a"), 0, out);
  s.admit(run(2, 0, "a"), 0, out);
  s.admit(run(3, 0, "b"), 0, out);
  CHECK(launched(out) == "r1 r3");
  CHECK(exceeded(out) == "a b");
  CHECK(s.queued() == 1);
}

TEST_CASE("flow: resume starts the budget over and frees held runs", "[flow]") {
  scheduler s{budget(1, 0, true)};
  std::vector<decision> out;
  for (uint64_t i = 1; i <= 2; ++i) {
    s.admit(run(i, 0, "a"), 0, out);
    s.admit(run(i + 10, 0, "b"), 0, out);
  }
  CHECK(launched(out) == "r1 r11");
  out.clear();
  auto reset = s.resume(std::string{"a"}, 5 * ms, out);
  REQUIRE(reset.size() == 1);
  CHECK(reset[0].key == "a");
  CHECK(reset[0].runs == 0);
  CHECK(launched(out) == "r2");
  out.clear();
  reset = s.resume(std::nullopt, 6 * ms, out);
  CHECK(reset.size() == 2);
  CHECK(launched(out) == "r12");
}

TEST_CASE("flow: spending loaded from the store counts in its window",
          "[flow]") {
  scheduler s{budget(2, 0)};
  // One stored for this window, one for an earlier one (ignored).
  s.load_budget({budget_usage{"", 1000 * ms, 2, 0}}, 1500 * ms);
  std::vector<decision> out;
  s.admit(run(1), 1500 * ms, out);
  CHECK(launched(out).empty());
  CHECK(told(out) == 0); // told before the restart
  s.advance(2000 * ms, out);
  CHECK(launched(out) == "r1");

  scheduler fresh{budget(2, 0)};
  fresh.load_budget({budget_usage{"", 0, 2, 0}}, 1500 * ms);
  out.clear();
  fresh.admit(run(1), 1500 * ms, out);
  CHECK(launched(out) == "r1");
}

TEST_CASE("flow: budget windows are aligned to the epoch", "[flow]") {
  CHECK(budget_window(0, 10) == 0);
  CHECK(budget_window(9, 10) == 0);
  CHECK(budget_window(10, 10) == 10);
  CHECK(budget_window(-1, 10) == -10);
  CHECK(budget_window(5, 0) == 0);
}
