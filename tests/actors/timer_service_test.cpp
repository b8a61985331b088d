// Tests the timer service with a real actor system, a real store and journal
// in a temporary directory: order and due times, arm after commit, disarm,
// restart over the same store, and a window smaller than the pending
// wakeups. Due times are 50-400 ms ahead; nothing asserts on speed.
#include "actors/timer_service.hpp"

#include "messages/clock.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using namespace rouse;
using namespace std::chrono_literals;

namespace {

constexpr int64_t ms_ns = 1'000'000;

struct fired_wakeup {
  wakeup w;
  int64_t at_ns = 0;
};

// One "node": store, journal, actor system and timer service over `dir`.
// Fired wakeups are recorded; with `owner_disarms`, each is deleted through
// the journal and then disarmed, as a real owner does.
class node {
public:
  node(const std::string& dir, std::size_t capacity, bool owner_disarms)
      : owner_disarms_(owner_disarms) {
    store::store_options opts;
    opts.dir = dir;
    opts.map_size_bytes = 64ull << 20;
    opts.sync = false;
    auto s = store::store::open(opts);
    REQUIRE(s);
    db_ = std::move(*s);
    journal_ = std::make_unique<store::journal>(*db_, store::journal_options{},
                                                store::committed_fn{});
    std::istringstream no_ini;
    cfg_.parse(caf::actor_system_config::string_list{}, no_ini);
    cfg_.set("scheduler.max-threads", 2);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    timer_service_config tc;
    tc.db = db_.get();
    tc.capacity = capacity;
    tc.refill_batch = std::max<std::size_t>(capacity / 4, 1);
    tc.on_due = [this](std::vector<wakeup>&& ws) { on_due(std::move(ws)); };
    tc.on_ready = [this](std::size_t n) {
      std::lock_guard<std::mutex> guard{mtx_};
      ready_ = n;
      cv_.notify_all();
    };
    auto hdl = spawn_timer_service(*sys_, std::move(tc));
    std::lock_guard<std::mutex> guard{mtx_};
    service_ = hdl;
  }

  ~node() {
    caf::anon_send_exit(service(), caf::exit_reason::user_shutdown);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      service_ = nullptr;
    }
    sys_->await_all_actors_done();
    sys_.reset();
    journal_->stop();
  }

  timer_service_actor service() {
    std::lock_guard<std::mutex> guard{mtx_};
    return service_;
  }

  /// Commits `arm` and `disarm`, then tells the service (arm after commit).
  void commit(std::vector<wakeup> arm, std::vector<wakeup_key> disarm = {}) {
    std::promise<caf::error> done;
    auto f = done.get_future();
    store::wakeup_op op;
    op.arm = arm;
    op.disarm = disarm;
    op.done = [&done](caf::error err) { done.set_value(std::move(err)); };
    journal_->submit(std::move(op));
    REQUIRE_FALSE(f.get());
    if (!disarm.empty())
      caf::anon_send(service(), disarm_atom::value, std::move(disarm));
    if (!arm.empty())
      caf::anon_send(service(), arm_atom::value, std::move(arm));
  }

  /// Waits until at least `n` wakeups fired (or 10 s passed).
  std::vector<fired_wakeup> wait_fired(std::size_t n) {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait_for(guard, 10s, [&] { return fired_.size() >= n; });
    return fired_;
  }

  std::vector<fired_wakeup> fired() {
    std::lock_guard<std::mutex> guard{mtx_};
    return fired_;
  }

  /// Waits for on_ready; returns the number of wakeups loaded.
  std::size_t wait_ready() {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait_for(guard, 10s, [&] { return ready_.has_value(); });
    REQUIRE(ready_);
    return *ready_;
  }

  /// Waits until the store holds `n` wakeups (owners' deletions are async).
  void wait_stored(uint64_t n) {
    for (int i = 0; i < 1000 && db_->count_wakeups() != n; ++i)
      std::this_thread::sleep_for(10ms);
    CHECK(db_->count_wakeups() == n);
  }

private:
  void on_due(std::vector<wakeup>&& ws) {
    auto now = wall_clock_ns();
    std::vector<wakeup_key> keys;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      for (auto& w : ws) {
        keys.push_back(w.key());
        fired_.push_back({std::move(w), now});
      }
      cv_.notify_all();
    }
    if (!owner_disarms_)
      return;
    store::wakeup_op op;
    op.disarm = keys;
    op.done = [this, keys](caf::error err) mutable {
      if (err)
        return;
      if (auto hdl = service())
        caf::anon_send(hdl, disarm_atom::value, std::move(keys));
    };
    journal_->submit(std::move(op));
  }

  bool owner_disarms_;
  std::unique_ptr<store::store> db_;
  std::unique_ptr<store::journal> journal_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::mutex mtx_;
  std::condition_variable cv_;
  timer_service_actor service_;
  std::vector<fired_wakeup> fired_;
  std::optional<std::size_t> ready_;
};

wakeup make_wakeup(int64_t due_ns, std::string owner) {
  auto payload = "payload:" + owner;
  return wakeup{due_ns, std::move(owner), std::move(payload)};
}

} // namespace

TEST_CASE("timer_service: wakeups fire in key order and not before due",
          "[actors][timer_service]") {
  test::temp_dir dir;
  node n{dir.path(), 100, true};
  CHECK(n.wait_ready() == 0);
  auto t0 = wall_clock_ns();
  n.commit({make_wakeup(t0 + 250 * ms_ns, "run/c"),
            make_wakeup(t0 + 50 * ms_ns, "run/a"),
            make_wakeup(t0 + 150 * ms_ns, "run/b2"),
            make_wakeup(t0 + 150 * ms_ns, "run/b1")});
  auto fired = n.wait_fired(4);
  REQUIRE(fired.size() == 4);
  std::vector<std::string> owners;
  for (auto& f : fired) {
    owners.push_back(f.w.owner);
    CHECK(f.at_ns >= f.w.due_ns);
    CHECK(f.w.payload == "payload:" + f.w.owner);
  }
  CHECK(owners
        == std::vector<std::string>{"run/a", "run/b1", "run/b2", "run/c"});
  n.wait_stored(0);
}

TEST_CASE("timer_service: a disarmed wakeup does not fire",
          "[actors][timer_service]") {
  test::temp_dir dir;
  node n{dir.path(), 100, true};
  n.wait_ready();
  auto t0 = wall_clock_ns();
  auto a = make_wakeup(t0 + 100 * ms_ns, "run/a");
  auto b = make_wakeup(t0 + 200 * ms_ns, "run/b");
  n.commit({a, b});
  n.commit({}, {a.key()});
  auto fired = n.wait_fired(1);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].w.owner == "run/b");
  std::this_thread::sleep_for(50ms);
  CHECK(n.fired().size() == 1);
}

TEST_CASE("timer_service: a restart reloads and fires what was not disarmed",
          "[actors][timer_service]") {
  test::temp_dir dir;
  auto t0 = wall_clock_ns();
  {
    // The owner here never deletes, so a slow shutdown that lets something
    // fire still leaves it for the restart.
    node first{dir.path(), 100, false};
    first.wait_ready();
    first.commit({make_wakeup(t0 + 100 * ms_ns, "run/past"),
                  make_wakeup(t0 + 300 * ms_ns, "run/kept"),
                  make_wakeup(t0 + 300 * ms_ns, "run/gone")});
    first.commit({}, {{t0 + 300 * ms_ns, "run/gone"}});
  }
  // Wait until the first one is past due.
  while (wall_clock_ns() < t0 + 150 * ms_ns)
    std::this_thread::sleep_for(10ms);
  node second{dir.path(), 100, true};
  CHECK(second.wait_ready() == 2);
  auto fired = second.wait_fired(2);
  REQUIRE(fired.size() == 2);
  CHECK(fired[0].w.owner == "run/past");
  CHECK(fired[1].w.owner == "run/kept");
  CHECK(fired[1].at_ns >= fired[1].w.due_ns);
  second.wait_stored(0);
  std::this_thread::sleep_for(50ms);
  CHECK(second.fired().size() == 2);
}

TEST_CASE("timer_service: a fired wakeup its owner did not delete fires again "
          "after a restart",
          "[actors][timer_service]") {
  test::temp_dir dir;
  auto t0 = wall_clock_ns();
  {
    node first{dir.path(), 100, false};
    first.wait_ready();
    first.commit({make_wakeup(t0 + 50 * ms_ns, "cron/tick")});
    REQUIRE(first.wait_fired(1).size() == 1);
  }
  node second{dir.path(), 100, true};
  CHECK(second.wait_ready() == 1);
  auto fired = second.wait_fired(1);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].w.owner == "cron/tick");
}

TEST_CASE("timer_service: a window smaller than the pending wakeups fires each "
          "once, in order",
          "[actors][timer_service]") {
  test::temp_dir dir;
  node n{dir.path(), 100, true};
  n.wait_ready();
  auto t0 = wall_clock_ns() + 200 * ms_ns;
  std::vector<wakeup> ws;
  for (int i = 0; i < 1000; ++i) {
    char owner[32];
    std::snprintf(owner, sizeof(owner), "run/%04d", (i * 7919) % 1000);
    ws.push_back(make_wakeup(t0 + (i % 100) * ms_ns, owner));
  }
  // Committed in two halves, armed after each commit.
  n.commit({ws.begin(), ws.begin() + 500});
  n.commit({ws.begin() + 500, ws.end()});
  auto fired = n.wait_fired(1000);
  REQUIRE(fired.size() == 1000);
  std::set<wakeup_key> seen;
  for (std::size_t i = 0; i < fired.size(); ++i) {
    CHECK(fired[i].at_ns >= fired[i].w.due_ns);
    if (i > 0)
      CHECK(fired[i - 1].w.key() < fired[i].w.key());
    seen.insert(fired[i].w.key());
  }
  CHECK(seen.size() == 1000);
  n.wait_stored(0);
  std::this_thread::sleep_for(50ms);
  CHECK(n.fired().size() == 1000);
}
