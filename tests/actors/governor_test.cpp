// The governor actor on virtual time: CAF's test coordinator runs every
// message on this thread and its clock only moves when a test advances it, so
// each policy is checked at exact instants (a token 1 ns too early does not
// start a run) with no sleeping. A recording actor stands in for the
// dispatcher.
#include "actors/governor.hpp"

#include <catch2/catch.hpp>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <atomic>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace rouse;
using namespace std::chrono_literals;

namespace {

constexpr int64_t ms = 1'000'000;

/// What the governor sent to its dispatcher, one line per message:
/// "launch r1", "skip r2 skipped: <reason>", "batch r1 [1 2 3]".
using sent_log = std::vector<std::string>;

caf::behavior recorder(caf::event_based_actor*, std::shared_ptr<sent_log> log) {
  return {
      [=](launch_atom, const run_record& run) {
        log->push_back("launch " + run.id);
      },
      [=](skip_atom, const run_record& run, uint8_t state,
          const std::string& reason) {
        log->push_back("skip " + run.id + " "
                       + to_string(static_cast<run_state>(state)) + ": "
                       + reason);
      },
      [=](batch_atom, const run_record& leader,
          const std::vector<run_record>& members) {
        std::string seqs;
        for (auto s : leader.flow.batch)
          seqs += (seqs.empty() ? "" : " ") + std::to_string(s);
        log->push_back("batch " + leader.id + " [" + seqs + "] +"
                       + std::to_string(members.size()));
      },
      [=](stop_atom, const std::string& run_id, const std::string& reason) {
        log->push_back("stop " + run_id + ": " + reason);
      },
      [=](notice_atom, const std::string& trigger, const std::string& type,
          const std::string& note, const std::string& key) {
        log->push_back("notice " + trigger + " " + type + ": " + note
                       + (key.empty() ? "" : " [" + key + "]"));
      },
  };
}

class fixture {
public:
  fixture() {
    std::istringstream no_ini;
    cfg_.parse(caf::actor_system_config::string_list{}, no_ini);
    cfg_.set("scheduler.policy", caf::atom("testing"));
    cfg_.set("logger.file-verbosity", caf::atom("quiet"));
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ =
        &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
    start_ = sched_->clock().now();
    dispatcher_ =
        caf::actor_cast<dispatcher_actor>(sys_->spawn(recorder, log_));
  }

  ~fixture() {
    caf::anon_send_exit(governor_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(dispatcher_, caf::exit_reason::user_shutdown);
    drain();
  }

  /// The virtual wall clock: 1 h after the epoch when the test starts.
  int64_t now() const {
    return 3600'000 * ms
           + std::chrono::duration_cast<std::chrono::nanoseconds>(
                 sched_->clock().now() - start_)
                 .count();
  }

  void start(flow_settings policy, std::vector<budget_usage> spent = {},
             std::string circuit = {},
             std::vector<std::pair<std::string, int64_t>> rate_tats = {},
             bool log_rate = false) {
    governor_config gc;
    gc.budget_spent = std::move(spent);
    gc.circuit = std::move(circuit);
    gc.remember_circuit = [log = log_](std::string memo) {
      log->push_back("remember circuit " + memo);
    };
    gc.rate_tats = std::move(rate_tats);
    if (log_rate)
      gc.remember_rate = [log = log_](const std::string& key, int64_t tat) {
        log->push_back("remember rate " + key + " " + std::to_string(tat));
      };
    gc.trigger = "t";
    gc.policy = policy;
    gc.dispatcher = dispatcher_;
    gc.held = held_;
    gc.now = [this] { return now(); };
    governor_ = spawn_governor(*sys_, std::move(gc));
    drain();
  }

  /// Admits a run of event `seq`, created now.
  void admit(uint64_t seq, std::string key = {}, int64_t priority = 0) {
    run_record run;
    run.id = "r" + std::to_string(seq);
    run.trigger = "t";
    run.event_seq = seq;
    run.created_ns = now();
    run.flow.concurrency_key = key;
    run.flow.rate_key = key;
    run.flow.debounce_key = key;
    run.flow.batch_key = key;
    run.flow.singleton_key = key;
    run.flow.budget_key = key;
    run.flow.priority = priority;
    caf::anon_send(governor_, admit_atom::value, std::move(run));
    drain();
  }

  void release(uint64_t seq) {
    caf::anon_send(governor_, release_atom::value, "r" + std::to_string(seq));
    drain();
  }

  /// Releases a run that finished: succeeded (`ok`) or failed, having
  /// reported `cost` (< 0: none).
  void finish(uint64_t seq, bool ok, double cost = -1) {
    caf::anon_send(governor_, release_atom::value, "r" + std::to_string(seq),
                   static_cast<int8_t>(ok ? 1 : 0), cost);
    drain();
  }

  /// Resumes the budget of `key` (every key if empty); returns the keys
  /// reset.
  std::vector<std::string> resume(std::string key = {}) {
    auto reset = std::make_shared<std::vector<std::string>>();
    budget_reply reply = [reset](std::vector<budget_usage> keys) {
      for (auto& k : keys)
        reset->push_back(k.key);
    };
    caf::anon_send(governor_, resume_atom::value, key, key.empty(),
                   std::move(reply));
    drain();
    return *reset;
  }

  void reconfigure(flow_settings policy) {
    caf::anon_send(governor_, limit_atom::value, policy);
    drain();
  }

  /// Moves virtual time forward by `d`, firing the timers due, and runs
  /// every message that follows.
  void advance(std::chrono::nanoseconds d) {
    sched_->advance_time(d);
    drain();
  }

  /// Returns and clears what the dispatcher received.
  sent_log sent() {
    auto out = std::move(*log_);
    log_->clear();
    return out;
  }

  int64_t held() const { return held_->load(); }

  governor_actor governor_handle() const { return governor_; }

private:
  void drain() {
    while (sched_->try_run_once()) {
    }
  }

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  caf::actor_clock::time_point start_;
  std::shared_ptr<sent_log> log_ = std::make_shared<sent_log>();
  std::shared_ptr<std::atomic<int64_t>> held_ =
      std::make_shared<std::atomic<int64_t>>(0);
  dispatcher_actor dispatcher_;
  governor_actor governor_;
};

using lines = sent_log;

} // namespace

TEST_CASE_METHOD(fixture, "governor: a keyed concurrency limit, per key",
                 "[governor]") {
  flow_settings p;
  p.concurrency = 1;
  p.concurrency_keyed = true;
  start(p);
  admit(1, "a");
  admit(2, "a");
  admit(3, "b");
  CHECK(sent() == lines{"launch r1", "launch r3"});
  CHECK(held() == 1);
  release(1);
  CHECK(sent() == lines{"launch r2"});
  CHECK(held() == 0);
}

TEST_CASE_METHOD(fixture, "governor: rate delay starts runs as tokens come",
                 "[governor]") {
  flow_settings p;
  p.rate_limit = 2;
  p.rate_per_ns = 1000 * ms;
  start(p);
  for (uint64_t i = 1; i <= 4; ++i)
    admit(i);
  CHECK(sent() == lines{"launch r1", "launch r2"});
  advance(499ms);
  CHECK(sent().empty());
  advance(1ms);
  CHECK(sent() == lines{"launch r3"});
  advance(499ms);
  CHECK(sent().empty());
  advance(1ms);
  CHECK(sent() == lines{"launch r4"});
  CHECK(held() == 0);
}

TEST_CASE_METHOD(fixture, "governor: rate drop skips runs over the rate",
                 "[governor]") {
  flow_settings p;
  p.rate_limit = 1;
  p.rate_per_ns = 1000 * ms;
  p.rate_drop = true;
  start(p);
  admit(1);
  admit(2);
  CHECK(sent()
        == lines{"launch r1", "skip r2 skipped: rate limit: over 1 per 1s"});
  advance(1000ms);
  admit(3);
  CHECK(sent() == lines{"launch r3"});
}

TEST_CASE_METHOD(fixture, "governor: debounce starts the last run after quiet",
                 "[governor]") {
  flow_settings p;
  p.debounce_ns = 100 * ms;
  p.debounce_max_wait_ns = 300 * ms;
  start(p);
  admit(1);
  advance(50ms);
  admit(2);
  advance(70ms);
  admit(3);
  CHECK(sent()
        == lines{"skip r1 skipped: debounced: superseded by run r2",
                 "skip r2 skipped: debounced: superseded by run r3"});
  advance(99ms);
  CHECK(sent().empty());
  advance(1ms);
  CHECK(sent() == lines{"launch r3"});
  // A steady stream is cut at max_wait after its first event.
  for (uint64_t i = 4; i <= 10; ++i) {
    admit(i);
    advance(60ms);
  }
  // r4 came at 220 ms: the window closes at 520 ms with r8 (460 ms).
  lines launches;
  for (auto& line : sent())
    if (line.starts_with("launch"))
      launches.push_back(line);
  CHECK(launches == lines{"launch r8"});
}

TEST_CASE_METHOD(fixture, "governor: batch when full or at max_wait",
                 "[governor]") {
  flow_settings p;
  p.batch_max = 3;
  p.batch_wait_ns = 1000 * ms;
  start(p);
  admit(1, "k");
  admit(2, "k");
  admit(3, "k");
  admit(4, "k");
  CHECK(sent() == lines{"batch r1 [1 2 3] +2"});
  advance(999ms);
  CHECK(sent().empty());
  advance(1ms);
  CHECK(sent() == lines{"batch r4 [4] +0"});
  CHECK(held() == 0);
  // Stored, the batch comes back and starts.
  run_record stored;
  stored.id = "r1";
  stored.trigger = "t";
  stored.event_seq = 1;
  stored.flow.batch = {1, 2, 3};
  stored.flow.batch_key = "k";
  caf::anon_send(governor_handle(), admit_atom::value, stored);
  advance(0ms);
  CHECK(sent() == lines{"launch r1"});
}

TEST_CASE_METHOD(fixture, "governor: priority with aging", "[governor]") {
  flow_settings p;
  p.concurrency = 1;
  p.priority = true;
  p.aging_ns = 1000 * ms;
  start(p);
  admit(1, {}, 0); // runs
  admit(2, {}, 0);
  advance(10s);
  admit(3, {}, 5);
  admit(4, {}, 20);
  CHECK(sent() == lines{"launch r1"});
  release(1);
  release(4);
  release(2);
  CHECK(sent() == lines{"launch r4", "launch r2", "launch r3"});
}

TEST_CASE_METHOD(fixture, "governor: singleton skip and cancel", "[governor]") {
  flow_settings p;
  p.singleton = true;
  SECTION("skip") {
    start(p);
    admit(1, "a");
    admit(2, "a");
    CHECK(sent()
          == lines{"launch r1", "skip r2 skipped: singleton: run r1 is active "
                                "(key \"a\")"});
  }
  SECTION("cancel") {
    p.singleton_cancel = true;
    start(p);
    admit(1, "a");
    admit(2, "a");
    admit(3, "a");
    CHECK(sent()
          == lines{"launch r1",
                   "stop r1: singleton: replaced by run r2 (key \"a\")",
                   "skip r2 skipped: singleton: replaced by run r3 (key "
                   "\"a\")"});
    release(1);
    CHECK(sent() == lines{"launch r3"});
  }
}

TEST_CASE_METHOD(fixture, "governor: a full queue rejects into the DLQ",
                 "[governor]") {
  flow_settings p;
  p.concurrency = 1;
  p.queue_max = 1;
  start(p);
  admit(1);
  admit(2);
  admit(3);
  CHECK(sent() == lines{"launch r1", "skip r3 dead: queue full (max 1)"});
  CHECK(held() == 1);
}

TEST_CASE_METHOD(fixture, "governor: new policies apply to held runs",
                 "[governor]") {
  flow_settings p;
  p.concurrency = 1;
  start(p);
  for (uint64_t i = 1; i <= 4; ++i)
    admit(i);
  CHECK(sent() == lines{"launch r1"});
  p.concurrency = 3;
  reconfigure(p);
  CHECK(sent() == lines{"launch r2", "launch r3"});
}

TEST_CASE_METHOD(fixture, "governor: the circuit breaker on virtual time",
                 "[governor]") {
  flow_settings p;
  p.concurrency = 1;
  p.circuit_failures = 2;
  p.circuit_cool_ns = 60'000 * ms;
  start(p);
  for (uint64_t i = 1; i <= 4; ++i)
    admit(i);
  finish(1, false);
  finish(2, false);
  // Stored at once (logged before the dispatcher's notice is).
  CHECK(sent()
        == lines{"launch r1", "launch r2",
                 "remember circuit open " + std::to_string(now() + 60'000 * ms),
                 "notice t rouse.trigger.circuit_open: 2 consecutive "
                 "failures, the last run r2"});
  advance(59'999ms);
  CHECK(sent().empty());
  advance(1ms);
  CHECK(sent() == lines{"launch r3"});
  finish(3, true);
  CHECK(sent()
        == lines{"remember circuit closed",
                 "notice t rouse.trigger.circuit_closed: probe run r3 "
                 "succeeded",
                 "launch r4"});
}

TEST_CASE_METHOD(fixture,
                 "governor: an open circuit stays open across a "
                 "restart",
                 "[governor]") {
  flow_settings p;
  p.circuit_failures = 2;
  p.circuit_cool_ns = 60'000 * ms;
  start(p, {}, "open " + std::to_string(now() + 10'000 * ms));
  admit(1);
  admit(2);
  CHECK(sent().empty());
  advance(9'999ms);
  CHECK(sent().empty());
  advance(1ms);
  CHECK(sent() == lines{"launch r1"}); // the probe
  finish(1, true);
  CHECK(sent()
        == lines{"remember circuit closed",
                 "notice t rouse.trigger.circuit_closed: probe run r1 "
                 "succeeded",
                 "launch r2"});
}

TEST_CASE_METHOD(fixture, "governor: a budget on virtual time", "[governor]") {
  // Windows of 1 h; the test starts at the start of one.
  flow_settings p;
  p.budget_runs = 3;
  p.budget_cost = 1.0;
  p.budget_per_ns = 3600'000 * ms;
  start(p);
  for (uint64_t i = 1; i <= 4; ++i)
    admit(i);
  auto first = sent();
  REQUIRE(first.size() == 4);
  CHECK(first[2] == "launch r3");
  CHECK(first[3].starts_with("notice t rouse.budget.exceeded: budget spent: "
                             "3 of 3 runs in the 1h window"));
  advance(3599'999ms);
  CHECK(sent().empty());
  advance(1ms);
  CHECK(sent() == lines{"launch r4"});
  // The cost budget of the new window: 1.2 reported spends it.
  finish(4, true, 1.2);
  auto spent = sent();
  REQUIRE(spent.size() == 1);
  CHECK(spent[0].find("cost 1.2 of 1") != std::string::npos);
  admit(5);
  CHECK(sent().empty());
  CHECK(resume() == std::vector<std::string>{""});
  CHECK(sent() == lines{"launch r5"});
}

TEST_CASE_METHOD(fixture, "governor: budget keys and what was spent before",
                 "[governor]") {
  flow_settings p;
  p.budget_runs = 1;
  p.budget_per_ns = 3600'000 * ms;
  p.budget_keyed = true;
  // Key a spent its run before a restart, in this window.
  start(p, {budget_usage{"a", 3600'000 * ms, 1, 0}});
  admit(1, "a");
  admit(2, "b");
  CHECK(sent()
        == lines{"launch r2",
                 "notice t rouse.budget.exceeded: budget spent: 1 of 1 "
                 "runs in the 1h window; runs wait until the next "
                 "window or `rouse triggers resume` (key \"b\") [b]"});
  CHECK(resume("a") == std::vector<std::string>{"a"});
  auto after = sent();
  REQUIRE(after.size() == 2);
  CHECK(after[0] == "launch r1");
}

TEST_CASE_METHOD(fixture, "governor: rate buckets carry over a restart",
                 "[governor]") {
  // 2 per second: one token every 500 ms, bursts of 2. The store says the
  // bucket of key "k" was emptied just before the restart (its theoretical
  // arrival time is a second ahead); key "old" was refilled long ago.
  flow_settings p;
  p.rate_limit = 2;
  p.rate_per_ns = 1000 * ms;
  const int64_t t0 = now();
  start(p, {}, {}, {{"k", t0 + 1000 * ms}, {"old", t0 - 5000 * ms}}, true);
  admit(1, "k");
  admit(2, "old");
  admit(3, "old");
  // "old" bursts two at once, and each launch stores its bucket first.
  CHECK(sent()
        == lines{"remember rate old " + std::to_string(t0 + 500 * ms),
                 "launch r2",
                 "remember rate old " + std::to_string(t0 + 1000 * ms),
                 "launch r3"});
  advance(499ms);
  CHECK(sent().empty());
  advance(1ms);
  CHECK(sent()
        == lines{"remember rate k " + std::to_string(t0 + 1500 * ms),
                 "launch r1"});
}
