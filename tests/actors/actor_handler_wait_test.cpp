// Tests that a C++ actor handler registered by an embedding program can put a
// run to sleep and make it wait for an event, as exec handlers do through
// $ROUSE_CONTROL: sleep_for, wait_for woken by a matching event (and not by
// others), wait_for finding an event that arrived while the attempt still ran
// (lookback from the start of the attempt; none with wait_since_now), and
// wait_for timing out. Each case starts a real host in-process (as
// examples/embed.cpp does) in a temporary data directory.
#include "actors/host.hpp"
#include "messages/clock.hpp"
#include "runtime/config/config.hpp"
#include "runtime/store/store.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace rouse;
using namespace std::chrono_literals;

namespace {

/// The bound of every wait in these tests; reaching it fails the test.
constexpr auto bound = 10s;

/// The trigger every case runs; its events have type demo.work.
constexpr const char* trigger_name = "work";

/// One request the handler answered, with the outcome it answered.
struct seen_request {
  run_request req;
  run_outcome answer;
};

/// The requests a handler saw, from any thread.
class request_log {
public:
  void add(const run_request& req, const run_outcome& answer) {
    std::lock_guard<std::mutex> guard{mtx_};
    seen_.push_back(seen_request{req, answer});
    cv_.notify_all();
  }

  /// Returns the requests for run `run_id` so far, in arrival order.
  std::vector<seen_request> for_run(const std::string& run_id) const {
    std::lock_guard<std::mutex> guard{mtx_};
    return select(run_id);
  }

  /// Waits (at most `bound`) until at least `n` requests for `run_id` arrived;
  /// returns the requests for it, or fails the test.
  std::vector<seen_request> await(const std::string& run_id, size_t n) const {
    std::unique_lock<std::mutex> guard{mtx_};
    auto enough = [&] { return select(run_id).size() >= n; };
    if (!cv_.wait_for(guard, bound, enough)) {
      INFO("run " << run_id << ": " << select(run_id).size()
                  << " request(s) within the bound, expected " << n);
      FAIL("the handler did not see the run's requests in time");
    }
    return select(run_id);
  }

private:
  std::vector<seen_request> select(const std::string& run_id) const {
    std::vector<seen_request> out;
    for (const auto& s : seen_)
      if (s.req.run_id == run_id)
        out.push_back(s);
    return out;
  }

  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
  std::vector<seen_request> seen_;
};

/// What the handler answers to a request; called on the handler's thread.
using decide_fn = std::function<run_outcome(const run_request&)>;

struct handler_script {
  decide_fn decide;
  /// If set, the answer to a first start (not a resume) waits until this gate
  /// opens: the attempt stays running meanwhile.
  caf::actor gate;
  request_log log;
};

run_outcome succeeded() {
  run_outcome out;
  out.ok = true;
  out.exit_code = 0;
  return out;
}

/// Returns a decision that answers a first start with `first()` (called when
/// the request arrives, so wall-clock times in it are fresh) and a resume with
/// success.
decide_fn first_then_succeed(std::function<run_outcome()> first) {
  return [first = std::move(first)](const run_request& req) {
    return req.resume.empty() ? first() : succeeded();
  };
}

struct gate_state {
  bool open = false;
  std::vector<caf::response_promise> held;
  static inline const char* name = "test_gate";
};

/// Answers get_atom with ok_atom once opened (by an ok_atom message); until
/// then the answers are held. (It takes an argument because spawning a
/// function actor with none makes UBSan report a null reference inside CAF
/// 0.17.6.)
caf::behavior gate(caf::stateful_actor<gate_state>* self, bool open) {
  self->state.open = open;
  return {
      [=](caf::get_atom) -> caf::result<caf::ok_atom> {
        if (self->state.open)
          return caf::ok_atom::value;
        auto rp = self->make_response_promise();
        self->state.held.push_back(rp);
        return rp;
      },
      [=](caf::ok_atom) {
        self->state.open = true;
        for (auto& rp : self->state.held)
          rp.deliver(caf::ok_atom::value);
        self->state.held.clear();
      },
  };
}

/// A handler actor that logs each request and answers what the script decides,
/// holding the answer to a first start until the script's gate opens.
handler_actor::behavior_type
scripted_handler(handler_actor::pointer self,
                 std::shared_ptr<handler_script> script) {
  return {
      [=](run_atom, const run_request& req) -> caf::result<run_outcome> {
        auto out = script->decide(req);
        script->log.add(req, out);
        if (!script->gate || !req.resume.empty())
          return out;
        auto rp = self->make_response_promise<run_outcome>();
        self->request(script->gate, caf::infinite, caf::get_atom::value)
            .then([rp, out](caf::ok_atom) mutable { rp.deliver(out); },
                  [rp](caf::error& err) mutable { rp.deliver(err); });
        return rp;
      },
  };
}

std::vector<std::string> states_of(const run_record& run) {
  std::vector<std::string> out;
  for (const auto& t : run.history)
    out.emplace_back(to_string(static_cast<run_state>(t.state)));
  return out;
}

std::string history_of(const run_record& run) {
  std::string out;
  for (const auto& t : run.history)
    out += std::string{to_string(static_cast<run_state>(t.state))} + " ("
           + t.note + ")\n";
  return out;
}

std::string last_history(const caf::expected<std::optional<run_record>>& got) {
  if (!got)
    return "(unreadable: " + describe(got.error()) + ")";
  if (!*got)
    return "(no such run)";
  return history_of(**got);
}

/// The states a run that waited once goes through: started, waiting, woken
/// (pending), started again, succeeded.
const std::vector<std::string> resumed_once = {
    "pending", "running", "waiting", "pending", "running", "succeeded"};

/// Checks the first start of a run: no resume, no state, no wake event.
void check_first_start(const run_request& req, const std::string& event_id) {
  CHECK(req.attempt == 1);
  CHECK(req.ev.id == event_id);
  CHECK(req.resume.empty());
  CHECK(req.state.empty());
  CHECK(req.wake_event.empty());
}

/// A run that waited once, was woken and succeeded.
struct resumed_run {
  run_record run;
  /// The handler's answer to the first start: the wait the run asked for.
  run_outcome first_answer;
  /// The request that resumed the run.
  run_request resumed;
};

/// A host with one trigger, `work` (on demo.work), run by a scripted actor
/// handler.
class fixture {
public:
  fixture() {
    std::istringstream no_ini;
    cfg_.parse(caf::actor_system_config::string_list{}, no_ini);
    cfg_.set("scheduler.max-threads", 2);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
  }

  ~fixture() {
    if (host_)
      host_->stop();
    host_.reset();
    if (handler_)
      caf::anon_send_exit(handler_, caf::exit_reason::user_shutdown);
    if (gate_)
      caf::anon_send_exit(gate_, caf::exit_reason::user_shutdown);
  }

  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;

  /// Starts the host; with `gated`, first starts are answered only after
  /// open_gate().
  void start(decide_fn decide, bool gated = false) {
    script_ = std::make_shared<handler_script>();
    script_->decide = std::move(decide);
    if (gated) {
      gate_ = sys_->spawn(gate, false);
      script_->gate = gate_;
    }
    handler_ = sys_->spawn(scripted_handler, script_);
    std::ostringstream yaml;
    yaml << "node: { data_dir: " << dir_.path()
         << ", listen: 127.0.0.1:0, durability: os }\n"
         << "triggers:\n"
         << "  " << trigger_name << ":\n"
         << "    on: { type: [demo.work] }\n"
         << "    run: { actor: scripted }\n";
    auto loaded = config::load_string(yaml.str(), "test.yaml", "");
    if (!loaded.ok()) {
      for (const auto& d : loaded.errors)
        UNSCOPED_INFO(d.to_string());
      FAIL("the test config does not load");
    }
    host_options opts;
    opts.cfg = std::move(*loaded.cfg);
    opts.actor_handlers.emplace_back("scripted", handler_);
    opts.verbose = false;
    auto h = host::start(*sys_, std::move(opts));
    if (!h)
      FAIL("host::start: " << describe(h.error()));
    host_ = std::move(*h);
  }

  void open_gate() { caf::anon_send(gate_, caf::ok_atom::value); }

  const request_log& log() const { return script_->log; }

  /// Emits one event and waits for its commit; returns its seq.
  uint64_t emit(const std::string& id, const std::string& type,
                const std::string& data_json) {
    event ev;
    ev.id = id;
    ev.source = "actor-handler-wait-test";
    ev.type = type;
    ev.datacontenttype = "application/json";
    ev.data = data_json;
    using result_t = caf::expected<std::vector<store::append_outcome>>;
    // Shared: the callback may run after a failed wait has left this frame.
    auto stored = std::make_shared<std::promise<result_t>>();
    auto got = stored->get_future();
    host_->emit({std::move(ev)},
                [stored](result_t r) { stored->set_value(std::move(r)); });
    if (got.wait_for(bound) != std::future_status::ready)
      FAIL("event " << id << " was not committed in time");
    auto r = got.get();
    if (!r)
      FAIL("event " << id << ": " << describe(r.error()));
    REQUIRE(r->size() == 1);
    REQUIRE_FALSE(r->front().duplicate);
    return r->front().seq;
  }

  /// Emits a demo.work event; returns the id of the run it starts.
  std::string start_run(const std::string& id) {
    return make_run_id(emit(id, "demo.work", R"({"step":"start"})"),
                       trigger_name);
  }

  /// Reads run `id` from the store; fails the test if it cannot.
  run_record get_run(const std::string& id) {
    auto got = host_->db().get_run(id);
    if (!got)
      FAIL("reading run " << id << ": " << describe(got.error()));
    if (!*got)
      FAIL("no run " << id);
    return std::move(**got);
  }

  /// Polls run `id` until it is in `state` (at most `bound`).
  run_record await_state(const std::string& id, run_state state) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
      auto got = host_->db().get_run(id);
      if (got && *got && (*got)->current() == state)
        return std::move(**got);
      if (std::chrono::steady_clock::now() >= deadline)
        FAIL("run " << id << " did not become " << to_string(state)
                    << " in time; history:\n"
                    << last_history(got));
      std::this_thread::sleep_for(5ms);
    }
  }

  /// Polls run `id` until it is terminal (at most `bound`).
  run_record await_terminal(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
      auto got = host_->db().get_run(id);
      if (got && *got && is_terminal((*got)->current()))
        return std::move(**got);
      if (std::chrono::steady_clock::now() >= deadline)
        FAIL("run " << id << " did not end in time; history:\n"
                    << last_history(got));
      std::this_thread::sleep_for(5ms);
    }
  }

  /// Waits for run `run_id` (started by event `event_id`) to end; checks that
  /// it succeeded after one wait and that the handler saw its first start and
  /// one resume.
  resumed_run await_resumed_once(const std::string& run_id,
                                 const std::string& event_id) {
    auto run = await_terminal(run_id);
    INFO("history of run " << run_id << ":\n" << history_of(run));
    CHECK(run.current() == run_state::succeeded);
    CHECK(states_of(run) == resumed_once);
    auto seen = log().for_run(run_id);
    REQUIRE(seen.size() == 2);
    check_first_start(seen[0].req, event_id);
    return {std::move(run), seen[0].answer, seen[1].req};
  }

private:
  test::temp_dir dir_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::shared_ptr<handler_script> script_;
  handler_actor handler_;
  caf::actor gate_;
  std::unique_ptr<host> host_;
};

/// Matches demo.approved events about order 42 only.
constexpr const char* approved_42 =
    R"({"type":["demo.approved"],"data":{"order":["42"]}})";

} // namespace

TEST_CASE("actor_handler_wait: sleep_for puts the run to sleep and resumes it "
          "with its state",
          "[actors][actor_handler_wait]") {
  fixture fx;
  fx.start(first_then_succeed(
      [] { return sleep_for(300ms, wall_clock_ns(), R"({"n":1})"); }));
  auto run_id = fx.start_run("work-sleep");
  fx.log().await(run_id, 1);
  const auto& [run, first_answer, resumed] =
      fx.await_resumed_once(run_id, "work-sleep");
  INFO("history of run " << run_id << ":\n" << history_of(run));
  CHECK(run.wait.reason == "sleep");
  CHECK(run.wait.resumes == 1);
  CHECK(run.wait.event_seq == 0);
  CHECK(resumed.resume == "sleep");
  CHECK(resumed.state == R"({"n":1})");
  CHECK(resumed.wake_event.empty());
  CHECK(resumed.attempt == 1);
  CHECK(resumed.ev.id == "work-sleep");
  // Not woken before the time it asked for (a lower bound only: both times
  // come from the wall clock rouse uses for its wakeups).
  REQUIRE(run.history.size() == resumed_once.size());
  CHECK(run.history[4].at_ns >= first_answer.wait_due_ns);
}

TEST_CASE("actor_handler_wait: wait_for wakes on the matching event only",
          "[actors][actor_handler_wait]") {
  fixture fx;
  // A timeout far beyond the test's bound: only the event can wake the run in
  // time.
  fx.start(first_then_succeed([] {
    return wait_for(approved_42, 1min, wall_clock_ns(), R"({"order":42})");
  }));
  auto run_id = fx.start_run("work-event");
  auto waiting = fx.await_state(run_id, run_state::waiting);
  CHECK(waiting.wait.kind == run_wait::event);
  CHECK(waiting.wait.pattern == approved_42);
  CHECK(waiting.wait.state == R"({"order":42})");

  // Near misses: the right type for another order, another type for order 42.
  fx.emit("approved-41", "demo.approved", R"({"order":"41"})");
  fx.emit("rejected-42", "demo.rejected", R"({"order":"42"})");
  auto match_seq = fx.emit("approved-42", "demo.approved", R"({"order":"42"})");

  const auto& [run, first_answer, resumed] =
      fx.await_resumed_once(run_id, "work-event");
  INFO("history of run " << run_id << ":\n" << history_of(run));
  CHECK(run.wait.reason == "event");
  CHECK(run.wait.event_seq == match_seq);
  CHECK(run.wait.resumes == 1);
  CHECK(resumed.resume == "event");
  CHECK(resumed.state == R"({"order":42})");
  REQUIRE(resumed.wake_event.size() == 1);
  CHECK(resumed.wake_event[0].id == "approved-42");
  CHECK(resumed.wake_event[0].seq == match_seq);
  CHECK(resumed.wake_event[0].data == R"({"order":"42"})");
  CHECK(resumed.ev.id == "work-event");
}

TEST_CASE("actor_handler_wait: wait_for finds an event that arrived while the "
          "attempt ran",
          "[actors][actor_handler_wait]") {
  fixture fx;
  // No timeout: only the event can wake the run.
  fx.start(first_then_succeed([] {
             return wait_for(approved_42, 0ns, wall_clock_ns(), R"({"k":"v"})");
           }),
           true);
  auto run_id = fx.start_run("work-lookback");
  fx.log().await(run_id, 1);
  // The handler has not answered: the attempt is running, and no run waits,
  // so the event is committed before any wait exists.
  CHECK(fx.get_run(run_id).current() == run_state::running);
  auto match_seq =
      fx.emit("approved-42-early", "demo.approved", R"({"order":"42"})");
  CHECK(fx.get_run(run_id).current() == run_state::running);
  fx.open_gate();

  const auto& [run, first_answer, resumed] =
      fx.await_resumed_once(run_id, "work-lookback");
  INFO("history of run " << run_id << ":\n" << history_of(run));
  CHECK(run.wait.reason == "event");
  CHECK(run.wait.event_seq == match_seq);
  CHECK(resumed.resume == "event");
  CHECK(resumed.state == R"({"k":"v"})");
  REQUIRE(resumed.wake_event.size() == 1);
  CHECK(resumed.wake_event[0].id == "approved-42-early");
  CHECK(resumed.wake_event[0].seq == match_seq);
}

TEST_CASE("actor_handler_wait: wait_for with wait_since_now ignores an event "
          "that arrived while the attempt ran",
          "[actors][actor_handler_wait]") {
  fixture fx;
  fx.start(first_then_succeed([] {
             auto out =
                 wait_for(approved_42, 300ms, wall_clock_ns(), R"({"k":1})");
             out.wait_since_now = true;
             return out;
           }),
           true);
  auto run_id = fx.start_run("work-since-now");
  fx.log().await(run_id, 1);
  fx.emit("approved-42-ignored", "demo.approved", R"({"order":"42"})");
  fx.open_gate();

  const auto& [run, first_answer, resumed] =
      fx.await_resumed_once(run_id, "work-since-now");
  INFO("history of run " << run_id << ":\n" << history_of(run));
  CHECK(run.wait.reason == "timeout");
  CHECK(run.wait.event_seq == 0);
  CHECK(resumed.resume == "timeout");
  CHECK(resumed.state == R"({"k":1})");
  CHECK(resumed.wake_event.empty());
}

TEST_CASE("actor_handler_wait: wait_for without a matching event times out",
          "[actors][actor_handler_wait]") {
  fixture fx;
  fx.start(first_then_succeed([] {
    return wait_for(approved_42, 300ms, wall_clock_ns(), R"({"try":1})");
  }));
  auto run_id = fx.start_run("work-timeout");
  fx.log().await(run_id, 1);
  const auto& [run, first_answer, resumed] =
      fx.await_resumed_once(run_id, "work-timeout");
  INFO("history of run " << run_id << ":\n" << history_of(run));
  CHECK(run.wait.reason == "timeout");
  CHECK(run.wait.event_seq == 0);
  CHECK(run.wait.resumes == 1);
  CHECK(resumed.resume == "timeout");
  CHECK(resumed.state == R"({"try":1})");
  CHECK(resumed.wake_event.empty());
  REQUIRE(run.history.size() == resumed_once.size());
  CHECK(run.history[4].at_ns >= first_answer.wait_due_ns);
}

TEST_CASE("actor_handler_wait: an invalid wait fails the run instead of "
          "waiting forever",
          "[actors][actor_handler_wait]") {
  fixture fx;
  fx.start([](const run_request& req) {
    if (req.ev.id == "work-bad-pattern")
      return wait_for(R"({"type":"demo.approved"})", 0ns, wall_clock_ns());
    if (req.ev.id == "work-bad-json")
      return wait_for("{not json", 0ns, wall_clock_ns());
    run_outcome o = succeeded();
    o.wait_kind = 7;
    return o;
  });
  for (const char* id :
       {"work-bad-pattern", "work-bad-json", "work-bad-kind"}) {
    auto run_id = fx.start_run(id);
    auto run = fx.await_terminal(run_id);
    INFO("history of run " << run_id << ":\n" << history_of(run));
    CHECK(run.current() == run_state::failed);
    CHECK(states_of(run)
          == std::vector<std::string>{"pending", "running", "failed"});
    if (std::string{id} == "work-bad-kind")
      CHECK(run.error == "unknown wait kind 7");
    else
      CHECK(run.error.find("wait_for.pattern") != std::string::npos);
    CHECK(fx.log().for_run(run_id).size() == 1);
  }
}
