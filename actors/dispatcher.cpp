// Dispatcher behavior. Every transition is committed before the next step
// happens, so a crash at any point leaves a state that recovery can resume from
// (running -> retried).
#include "actors/dispatcher.hpp"

#include "actors/timer_service.hpp"

#include "runtime/config/config.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/match/matcher.hpp"
#include "runtime/match/wait_set.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <deque>
#include <iostream>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace rouse {

namespace {

struct dispatcher_state {
  dispatcher_config cfg;
  /// Runs between launch and outcome (each holds one execution slot).
  uint32_t active = 0;
  /// Admitted runs waiting for a slot, oldest first (still `pending` in the
  /// store).
  std::deque<run_record> queued;
  /// Runs between begin() and their outcome: they cannot be cancelled.
  std::unordered_set<std::string> active_ids;
  /// Runs with a wake or cancel being committed: a second one gets 409.
  std::unordered_set<std::string> busy;
  /// Running runs being stopped: who asked (may be empty) and why. The
  /// outcome ends them `cancelled`.
  std::unordered_map<std::string, std::pair<run_reply, std::string>> stopping;
  /// Pending or retrying runs cancelled while a governor or the queue may
  /// still hold them: skipped when they come up.
  std::unordered_set<std::string> cancelled;
  /// Runs waiting for an event, by run id, indexed by their patterns.
  match::wait_set waits;
  /// Sleeps asked for by running runs through the API (`rouse wake-me`):
  /// (due, state) applied when the attempt succeeds without its own wait.
  std::unordered_map<std::string, std::pair<int64_t, std::string>> wake_me;
  /// Wakes sleeping runs and times out waits (linked: it ends with us).
  timer_service_actor timers;
  static inline const char* name = "dispatcher";
};

using dispatcher_pointer = dispatcher_actor::stateful_pointer<dispatcher_state>;

/// The trigger a run belongs to, from the current table (null if it has been
/// removed). Holds the table so the entry stays valid while in use.
struct trigger_ref {
  trigger_table_ptr table;
  const trigger_entry* entry = nullptr;
};

trigger_ref find_trigger(dispatcher_pointer self, const std::string& name) {
  trigger_ref ref;
  ref.table = self->state.cfg.triggers->load();
  if (ref.table)
    ref.entry = ref.table->find(name);
  return ref;
}

// Whether rouse.* events are published now (node.run_events).
bool publishing(dispatcher_pointer self) {
  using mode = config::node_config::run_events_mode;
  const auto& cfg = self->state.cfg;
  if (cfg.run_events == mode::never)
    return false;
  if (cfg.run_events == mode::always || cfg.waits_active->load() > 0)
    return true;
  auto table = cfg.triggers->load();
  return table && table->run_events;
}

// Adds to `op` the event that tells about `run`'s new state (rouse.run.started,
// .succeeded, .failed, .dead, .waiting), committed with it. It is one step
// deeper than the run's event and emitted by the run's trigger, so loop
// protection and ignore_self apply to triggers that chain on runs.
void publish(dispatcher_pointer self, store::run_op& op,
             const run_record& run) {
  if (run.history.empty() || !publishing(self))
    return;
  std::string kind;
  switch (run.current()) {
  case run_state::running: kind = "started"; break;
  case run_state::succeeded: kind = "succeeded"; break;
  case run_state::failed: kind = "failed"; break;
  case run_state::dead: kind = "dead"; break;
  case run_state::waiting: kind = "waiting"; break;
  default: return;
  }
  const auto& last = run.history.back();
  event ev;
  ev.source = std::string{run_event_source};
  ev.type = "rouse.run." + kind;
  ev.id = run.id + "/" + std::to_string(run.history.size());
  ev.subject = run.trigger;
  ev.time = json::format_rfc3339(last.at_ns);
  ev.datacontenttype = "application/json";
  ev.received_by = emitted_by(run.trigger);
  json::object_writer cause;
  cause.field("seq", run.event_seq)
      .field("id", run.event_id)
      .field("type", run.event_type);
  if (auto orig = self->state.cfg.db->get_event(run.event_seq); orig && *orig) {
    ev.depth = (*orig)->depth + 1;
    ev.cause = (*orig)->id;
    cause.field("source", (*orig)->source);
  }
  json::object_writer data;
  data.field("run", run.id)
      .field("trigger", run.trigger)
      .field("state", to_string(run.current()))
      .field("attempt", uint64_t{run.attempt})
      .field("note", last.note);
  if (is_terminal(run.current())) {
    data.field("exit_code", int64_t{run.exit_code});
    if (!run.error.empty())
      data.field("error", run.error);
  }
  data.raw("event", cause.finish());
  ev.data = data.finish();
  op.emit.push_back(std::move(ev));
}

// The budget key of `run` under trigger `trig`'s budget, if it has one.
std::optional<std::string> budget_key_of(const trigger_ref& ref,
                                         const run_record& run) {
  if (ref.entry == nullptr || ref.entry->def == nullptr
      || !ref.entry->def->flow.budget.on())
    return std::nullopt;
  return ref.entry->def->flow.budget.key.empty() ? std::string{}
                                                 : run.flow.budget_key;
}

int64_t budget_per_ns(const trigger_ref& ref) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             ref.entry->def->flow.budget.per)
      .count();
}

// Stores `run` and, once committed, releases its slot at the governor of its
// trigger. A cost the attempt reported (>= 0) is added to the run and charged
// to the trigger's budget in the same transaction. A waiting run's wakeup, and
// a retrying run's wakeup for its next attempt (wait.due_ns), are stored with
// it; once both are durable the timer service holds the wakeup, and for a
// waiting run the dispatcher learns it (waited).
void store_final(dispatcher_pointer self, run_record run, double cost,
                 run_reply reply = {}) {
  auto ref = find_trigger(self, run.trigger);
  store::run_op op;
  if (cost > 0) {
    run.cost += cost;
    if (auto key = budget_key_of(ref, run))
      op.charge.push_back(budget_usage{
          std::move(*key), budget_window(wall_clock_ns(), budget_per_ns(ref)),
          0, cost});
  }
  auto run_id = run.id;
  bool retry = run.current() == run_state::retrying;
  bool waiting = run.current() == run_state::waiting;
  int64_t retry_due = retry ? run.wait.due_ns : 0;
  if ((waiting || retry) && run.wait.due_ns > 0)
    op.arm.push_back(wakeup{run.wait.due_ns, run_wakeup_owner(run.id), {}});
  publish(self, op, run);
  op.run = run;
  governor_actor governor =
      ref.entry != nullptr ? ref.entry->governor : governor_actor{};
  auto hdl = caf::actor_cast<dispatcher_actor>(self);
  auto timers = self->state.timers;
  // -1: no outcome (waiting, cancelled), 1: succeeded, 0: failed.
  const bool cancelled = run.current() == run_state::cancelled;
  int8_t outcome = waiting || cancelled                    ? -1
                   : run.current() == run_state::succeeded ? 1
                                                           : 0;
  op.done = [governor, hdl, timers, run_id, retry_due, waiting, outcome, cost,
             reply = std::move(reply),
             run = waiting ? std::move(run)
                           : run_record{}](caf::error err) mutable {
    if (err)
      std::cerr << "rouse: storing the outcome of run " << run_id
                << " failed: " << describe(err) << "\n";
    if (reply) {
      // A cancel of the running run: answered on the dispatcher's thread.
      run_record done;
      done.id = run_id;
      done.state = static_cast<uint8_t>(run_state::cancelled);
      caf::anon_send(hdl, settled_atom::value, !err, std::move(done),
                     std::move(reply), int64_t{0});
    }
    if (waiting)
      caf::anon_send(hdl, waited_atom::value, !err, std::move(run));
    if (!governor)
      return;
    // Waiting runs hold no slot. A finished attempt's outcome counts for the
    // circuit breaker, its cost for the budget.
    caf::anon_send(governor, release_atom::value, run_id, outcome, cost);
    // Only once the retrying state is stored, so the next attempt's
    // transitions can never be overwritten by it. The wakeup fires wake()
    // with reason "timer", which admits the run again.
    if (retry_due > 0 && !err && timers)
      caf::anon_send(
          timers, arm_atom::value,
          std::vector<wakeup>{wakeup{retry_due, run_wakeup_owner(run_id), {}}});
  };
  self->state.cfg.journal->submit(std::move(op));
}

// Takes an execution slot, stores `run` as running and, once that is committed,
// continues in the started_atom handler.
void begin(dispatcher_pointer self, run_record run) {
  if (self->state.cancelled.erase(run.id) > 0) {
    // Cancelled while queued: the stored state is `cancelled` already.
    if (auto ref = find_trigger(self, run.trigger); ref.entry != nullptr)
      self->send(ref.entry->governor, release_atom::value, run.id);
    return;
  }
  ++self->state.active;
  self->state.active_ids.insert(run.id);
  auto now = wall_clock_ns();
  run.wait.start_seq = self->state.cfg.db->last_seq();
  run.attempt += 1;
  run.started_ns = now;
  run.transition(run_state::running, now,
                 "attempt " + std::to_string(run.attempt)
                     + (run.wait.reason.empty()
                            ? std::string{}
                            : " (resumed: " + run.wait.reason + ")"));
  store::run_op op;
  // Its first start counts against the budget (retries and resumes do not),
  // committed with the start so a crash cannot count it twice.
  if (run.attempt == 1 && run.wait.resumes == 0) {
    auto ref = find_trigger(self, run.trigger);
    if (auto key = budget_key_of(ref, run))
      op.charge.push_back(budget_usage{
          std::move(*key), budget_window(now, budget_per_ns(ref)), 1, 0});
  }
  publish(self, op, run);
  op.run = run;
  auto hdl = caf::actor_cast<dispatcher_actor>(self);
  op.done = [hdl, run = std::move(run)](caf::error err) mutable {
    if (err)
      std::cerr << "rouse: storing run " << run.id
                << " as running failed: " << describe(err) << "\n";
    caf::anon_send(hdl, started_atom::value, !err, std::move(run));
  };
  self->state.cfg.journal->submit(std::move(op));
}

// Frees the execution slot of `run_id` and begins queued runs while slots are
// free.
void release_slot(dispatcher_pointer self, const std::string& run_id) {
  auto& st = self->state;
  st.active_ids.erase(run_id);
  if (st.active > 0)
    --st.active;
  while (!st.queued.empty() && st.active < st.cfg.max_running) {
    auto next = std::move(st.queued.front());
    st.queued.pop_front();
    if (st.cfg.queued)
      st.cfg.queued->fetch_sub(1);
    begin(self, std::move(next));
  }
}

/// The wait before the attempt after `attempt` (1-based) under `p`:
/// backoff * 2^(attempt-1), capped, minus up to `jitter` of it at random.
std::chrono::milliseconds retry_delay(const config::retry_policy& p,
                                      uint32_t attempt) {
  double ms = static_cast<double>(p.backoff.count());
  for (uint32_t i = 1; i < attempt && ms < p.max_backoff.count(); ++i)
    ms *= 2;
  ms = std::min(ms, static_cast<double>(p.max_backoff.count()));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> cut{0.0, p.jitter};
  ms *= 1.0 - cut(rng);
  return std::chrono::milliseconds{static_cast<int64_t>(ms)};
}

void answer(const run_reply& reply, int status, std::string body) {
  if (reply)
    reply(status, std::move(body));
}

std::string error_body(std::string_view message) {
  json::object_writer w;
  w.field("error", message);
  return w.finish();
}

// Why the wait `outcome` asks for cannot be kept ("" if it can): an unknown
// kind, a sleep without a due time, or an event pattern that does not compile.
// Exec handlers' requests are checked when $ROUSE_CONTROL is read; this
// catches C++ actor handlers' run_outcome.
std::string invalid_wait(const run_outcome& outcome) {
  switch (outcome.wait_kind) {
  case run_wait::sleep:
    return outcome.wait_due_ns > 0 ? "" : "sleep needs a due time";
  case run_wait::event:
    if (auto p = pattern::compile(outcome.wait_pattern, "wait_for.pattern"); !p)
      return describe(p.error());
    return "";
  default: return "unknown wait kind " + std::to_string(outcome.wait_kind);
  }
}

// Stores the run as waiting (with its wakeup, if it has a due time) and frees
// its slots; the waited handler arms the timer and watches for the event once
// that is durable.
void go_waiting(dispatcher_pointer self, run_record run, run_outcome outcome,
                int64_t now) {
  auto& w = run.wait;
  w.kind = outcome.wait_kind;
  w.due_ns = outcome.wait_due_ns;
  w.pattern = std::move(outcome.wait_pattern);
  w.state = std::move(outcome.state);
  w.since_seq =
      outcome.wait_since_now ? self->state.cfg.db->last_seq() : w.start_seq;
  w.reason.clear();
  w.event_seq = 0;
  std::string note;
  if (w.kind == run_wait::sleep) {
    note = "sleeping until " + json::format_rfc3339(w.due_ns);
  } else {
    note = "waiting for an event matching " + w.pattern + " after seq "
           + std::to_string(w.since_seq);
    if (w.due_ns > 0)
      note += ", until " + json::format_rfc3339(w.due_ns);
  }
  run.transition(run_state::waiting, now, std::move(note));
  self->state.cfg.metrics->runs_finished.inc(
      metrics::label("trigger", run.trigger) + ","
      + metrics::label("outcome", "waiting"));
  auto id = run.id;
  store_final(self, std::move(run), outcome.cost);
  release_slot(self, id);
}

// Wakes `run` (by id) if an event matches its wait: first among the events it
// may have missed (since_seq up to the newest committed one), then among those
// committed from now on (route_atom), so no event falls between the two.
void watch(dispatcher_pointer self, const run_record& run) {
  auto& st = self->state;
  auto compiled = pattern::compile(run.wait.pattern, "wait_for.pattern");
  if (!compiled) {
    std::cerr << "rouse: run " << run.id << " waits for an invalid pattern ("
              << describe(compiled.error()) << "); it wakes only by timeout, "
              << "wake or cancel\n";
    return;
  }
  auto compiled_ptr =
      std::make_shared<const pattern::pattern>(std::move(*compiled));
  if (!st.waits.add(run.id, compiled_ptr))
    return;
  // The lookback tries only this run's pattern.
  auto matcher = match::make_pattern_matcher({std::move(compiled_ptr)});
  // Count the wait before reading the newest seq: any event committed after
  // that read is handed to this actor by the host.
  st.cfg.waits_active->fetch_add(1);
  const auto last = st.cfg.db->last_seq();
  std::vector<uint32_t> hits;
  for (auto from = run.wait.since_seq + 1; from <= last;) {
    auto chunk = st.cfg.db->read_events(from, 256);
    if (!chunk) {
      std::cerr << "rouse: run " << run.id
                << ": reading the journal for its wait failed: "
                << describe(chunk.error()) << "\n";
      return;
    }
    if (chunk->empty())
      break;
    for (const auto& ev : *chunk) {
      if (ev.seq > last)
        return;
      hits.clear();
      matcher->match(ev, hits);
      if (!hits.empty()) {
        st.waits.remove(run.id);
        st.cfg.waits_active->fetch_sub(1);
        self->send(self, wake_atom::value,
                   wake_request{run.id, "event", ev.seq, 0}, run_reply{});
        return;
      }
    }
    from = chunk->back().seq + 1;
  }
}

void forget_wait(dispatcher_pointer self, const std::string& run_id) {
  if (self->state.waits.remove(run_id))
    self->state.cfg.waits_active->fetch_sub(1);
}

// Reads run `id` for a wake or cancel; answers 404/409/500 and returns
// nullopt if it cannot go on.
std::optional<run_record> load_for_change(dispatcher_pointer self,
                                          const std::string& id,
                                          const run_reply& reply) {
  if (self->state.busy.count(id) > 0) {
    answer(reply, 409,
           error_body("a wake or cancel of run \"" + id
                      + "\" is already in progress"));
    return std::nullopt;
  }
  auto got = self->state.cfg.db->get_run(id);
  if (!got) {
    answer(reply, 500, error_body(describe(got.error())));
    return std::nullopt;
  }
  if (!*got) {
    answer(reply, 404, error_body("no run with id \"" + id + "\""));
    return std::nullopt;
  }
  return std::move(**got);
}

// Commits `run` (a wake or a cancel), deleting the wakeup due at `disarm_due`
// in the same transaction; settled() continues.
void commit_change(dispatcher_pointer self, run_record run, run_reply reply,
                   int64_t disarm_due) {
  self->state.busy.insert(run.id);
  store::run_op op;
  if (disarm_due > 0)
    op.disarm.push_back(wakeup_key{disarm_due, run_wakeup_owner(run.id)});
  op.run = run;
  auto hdl = caf::actor_cast<dispatcher_actor>(self);
  op.done = [hdl, run = std::move(run), reply = std::move(reply),
             disarm_due](caf::error err) mutable {
    if (err)
      std::cerr << "rouse: storing run " << run.id
                << " failed: " << describe(err) << "\n";
    caf::anon_send(hdl, settled_atom::value, !err, std::move(run),
                   std::move(reply), disarm_due);
  };
  self->state.cfg.journal->submit(std::move(op));
}

void wake(dispatcher_pointer self, wake_request req, run_reply reply) {
  auto run = load_for_change(self, req.run_id, reply);
  if (!run)
    return;
  auto owner = run_wakeup_owner(run->id);
  if (run->current() == run_state::retrying && run->wait.due_ns > 0
      && (req.reason == "wake"
          || (req.reason == "timer" && req.due_ns == run->wait.due_ns))) {
    // The wait before the next attempt is over (or cut short by request):
    // delete the wakeup, then settled() admits the run again.
    auto due = run->wait.due_ns;
    run->wait.due_ns = 0;
    if (req.reason == "wake")
      run->history.push_back(
          run_transition{static_cast<uint8_t>(run_state::retrying),
                         wall_clock_ns(), "next attempt now, by request"});
    commit_change(self, std::move(*run), std::move(reply), due);
    return;
  }
  if (run->current() != run_state::waiting
      || (req.reason == "timer" && req.due_ns != run->wait.due_ns)) {
    // A wakeup of a wait that is over (woken otherwise, or cancelled before
    // its deletion was committed) is only removed.
    if (req.reason == "timer" && req.due_ns > 0) {
      store::wakeup_op op;
      op.disarm.push_back(wakeup_key{req.due_ns, owner});
      self->state.cfg.journal->submit(std::move(op));
      return;
    }
    answer(reply, 409,
           error_body("run \"" + run->id + "\" is " + to_string(run->current())
                      + ", not waiting"));
    return;
  }
  auto& w = run->wait;
  std::string reason = req.reason;
  if (reason == "timer")
    reason = w.kind == run_wait::sleep ? "sleep" : "timeout";
  auto disarm_due = w.due_ns;
  std::string note = "woke: " + reason;
  if (reason == "event") {
    auto ev = self->state.cfg.db->get_event(req.event_seq);
    if (ev && *ev)
      note += " " + (*ev)->type + " " + (*ev)->id + " (seq "
              + std::to_string(req.event_seq) + ")";
  }
  forget_wait(self, run->id);
  w.reason = reason;
  w.event_seq = reason == "event" ? req.event_seq : 0;
  w.resumes += 1;
  w.kind = run_wait::none;
  w.due_ns = 0;
  w.pattern.clear();
  // A resumed run gets a fresh attempt chain: retries count per step.
  run->attempt = 0;
  run->transition(run_state::pending, wall_clock_ns(), std::move(note));
  commit_change(self, std::move(*run), std::move(reply), disarm_due);
}

// Stops running run `id` of trigger `trigger`: its exec handler signals the
// process, and the outcome ends the run `cancelled`, answering `reply`.
void stop_running(dispatcher_pointer self, const std::string& id,
                  const std::string& trigger, std::string reason,
                  run_reply reply) {
  auto& st = self->state;
  if (st.stopping.count(id) > 0) {
    answer(reply, 409,
           error_body("run \"" + id + "\" is being cancelled already"));
    return;
  }
  auto ref = find_trigger(self, trigger);
  if (ref.entry == nullptr || !ref.entry->exec) {
    answer(reply, 409,
           error_body(
               "run \"" + id + "\" is running in "
               + (ref.entry == nullptr
                      ? std::string{"a removed trigger"}
                      : "actor handler \"" + ref.entry->def->run.actor + "\"")
               + ", which cannot be stopped; it ends when the handler "
                 "answers"));
    return;
  }
  // Sent after the run request if that went out (same sender and receiver:
  // in order); if it did not, started_atom sees `stopping` and never sends it.
  self->send(ref.entry->exec, stop_atom::value, id, reason);
  st.stopping.emplace(id, std::pair{std::move(reply), std::move(reason)});
}

void cancel(dispatcher_pointer self, const std::string& id, run_reply reply) {
  auto run = load_for_change(self, id, reply);
  if (!run)
    return;
  auto state = run->current();
  if (self->state.active_ids.count(id) > 0) {
    stop_running(self, id, run->trigger, "by request", std::move(reply));
    return;
  }
  if (state == run_state::running) {
    answer(reply, 409,
           error_body("run \"" + id
                      + "\" is stored as running but not executing here "
                        "(it starts again after recovery)"));
    return;
  }
  if (state != run_state::waiting && state != run_state::pending
      && state != run_state::retrying) {
    answer(reply, 409,
           error_body("run \"" + id + "\" is " + to_string(state)
                      + " and cannot be cancelled"));
    return;
  }
  int64_t disarm_due = 0;
  if (state == run_state::waiting) {
    disarm_due = run->wait.due_ns;
    forget_wait(self, id);
  } else if (state == run_state::retrying && run->wait.due_ns > 0) {
    // Between attempts: only its stored wakeup holds it.
    disarm_due = run->wait.due_ns;
  } else {
    // A governor, the retry timer or the queue still holds it.
    self->state.cancelled.insert(id);
  }
  run->wait.kind = run_wait::none;
  run->wait.due_ns = 0;
  run->transition(run_state::cancelled, wall_clock_ns(),
                  "cancelled by request while "
                      + std::string{to_string(state)});
  commit_change(self, std::move(*run), std::move(reply), disarm_due);
}

void settled(dispatcher_pointer self, bool ok, run_record run, run_reply reply,
             int64_t disarmed_due) {
  auto& st = self->state;
  st.busy.erase(run.id);
  if (!ok) {
    st.cancelled.erase(run.id);
    answer(reply, 500, error_body("storing run \"" + run.id + "\" failed"));
    return;
  }
  if (disarmed_due > 0 && st.timers)
    self->send(st.timers, disarm_atom::value,
               std::vector<wakeup_key>{
                   wakeup_key{disarmed_due, run_wakeup_owner(run.id)}});
  json::object_writer w;
  w.field("run", run.id).field("state", to_string(run.current()));
  if (run.current() == run_state::retrying) {
    auto ref = find_trigger(self, run.trigger);
    if (ref.entry != nullptr)
      self->send(ref.entry->governor, admit_atom::value, run);
    else
      std::cerr << "rouse: run " << run.id << " is due for its next attempt, "
                << "but its trigger \"" << run.trigger
                << "\" no longer exists; left retrying\n";
  } else if (run.current() == run_state::pending) {
    w.field("reason", run.wait.reason);
    auto ref = find_trigger(self, run.trigger);
    if (ref.entry != nullptr)
      self->send(ref.entry->governor, admit_atom::value, run);
    else
      std::cerr << "rouse: run " << run.id << " woke, but its trigger \""
                << run.trigger << "\" no longer exists; left pending\n";
  }
  answer(reply, 200, w.finish());
}

// Publishes an event about trigger `trigger` (a governor's circuit breaker
// opened or closed) and logs it.
void notice(dispatcher_pointer self, const std::string& trigger,
            const std::string& type, const std::string& note,
            const std::string& key) {
  std::cerr << "rouse: trigger \"" << trigger << "\": " << type << " (" << note
            << ")\n";
  if (!publishing(self))
    return;
  auto now = wall_clock_ns();
  event ev;
  ev.source = std::string{run_event_source};
  ev.type = type;
  ev.id = trigger + "/" + type + "/" + std::to_string(now);
  ev.subject = trigger;
  ev.time = json::format_rfc3339(now);
  ev.datacontenttype = "application/json";
  ev.received_by = emitted_by(trigger);
  json::object_writer data;
  data.field("trigger", trigger).field("note", note);
  if (!key.empty())
    data.field("key", key);
  ev.data = data.finish();
  store::append_op op;
  op.events.push_back(std::move(ev));
  op.done = [](caf::expected<std::vector<store::append_outcome>> r) {
    if (!r)
      std::cerr << "rouse: storing a trigger event failed: "
                << describe(r.error()) << "\n";
  };
  self->state.cfg.journal->submit(std::move(op));
}

// Stores a run its governor decided not to run: skipped (debounced, batched,
// over a rate, a singleton or a full queue) or dead (rejected by a full queue,
// so it can be replayed from the dead-letter queue).
void skip_run(dispatcher_pointer self, run_record run, run_state state,
              std::string reason) {
  if (self->state.cancelled.erase(run.id) > 0)
    return; // stored as cancelled already
  if (state == run_state::dead)
    run.error = reason;
  run.transition(state, wall_clock_ns(), std::move(reason));
  self->state.cfg.metrics->runs_finished.inc(
      metrics::label("trigger", run.trigger) + ","
      + metrics::label("outcome", to_string(state)));
  store::run_op op;
  auto id = run.id;
  publish(self, op, run);
  op.run = std::move(run);
  op.done = [id](caf::error err) {
    if (err)
      std::cerr << "rouse: storing the skip of run " << id
                << " failed: " << describe(err) << "\n";
  };
  self->state.cfg.journal->submit(std::move(op));
}

// Stores a batch run (with the seqs of its events) and its members as skipped
// in one transaction, then admits the batch at its governor again: a crash in
// between leaves either the members pending (batched again) or the batch.
void store_batch(dispatcher_pointer self, run_record leader,
                 std::vector<run_record> members) {
  auto now = wall_clock_ns();
  std::string ids;
  for (auto& m : members) {
    m.transition(run_state::skipped, now, "batched into run " + leader.id);
    ids += (ids.empty() ? "" : ", ") + m.id;
  }
  leader.transition(
      run_state::pending, now,
      "batch of " + std::to_string(leader.flow.batch.size())
          + (leader.flow.batch.size() == 1 ? " event" : " events")
          + (ids.empty() ? std::string{} : " (with runs " + ids + ")"));
  store::run_op op;
  op.run = leader;
  op.also = std::move(members);
  auto ref = find_trigger(self, leader.trigger);
  governor_actor governor =
      ref.entry != nullptr ? ref.entry->governor : governor_actor{};
  op.done = [governor, leader = std::move(leader)](caf::error err) mutable {
    if (err) {
      std::cerr << "rouse: storing batch run " << leader.id
                << " failed: " << describe(err)
                << "; its runs stay pending until a restart\n";
      return;
    }
    if (governor)
      caf::anon_send(governor, admit_atom::value, std::move(leader));
  };
  self->state.cfg.journal->submit(std::move(op));
}

dispatcher_actor::behavior_type dispatcher(dispatcher_pointer self,
                                           dispatcher_config cfg) {
  self->state.cfg = std::move(cfg);
  timer_service_config tc;
  tc.db = self->state.cfg.db;
  tc.capacity = self->state.cfg.timer_capacity;
  auto hdl = caf::actor_cast<dispatcher_actor>(self);
  tc.on_due = [hdl](std::vector<wakeup>&& due) {
    static const std::string prefix = run_wakeup_owner("");
    for (auto& w : due) {
      if (!w.owner.starts_with(prefix)) {
        std::cerr << "rouse: a stored wakeup has an unknown owner \"" << w.owner
                  << "\"; ignored\n";
        continue;
      }
      caf::anon_send(
          hdl, wake_atom::value,
          wake_request{w.owner.substr(prefix.size()), "timer", 0, w.due_ns},
          run_reply{});
    }
  };
  self->state.timers = spawn_timer_service(self->system(), std::move(tc));
  self->link_to(self->state.timers);
  return {
      [=](skip_atom, run_record& run, uint8_t state, std::string& reason) {
        skip_run(self, std::move(run), static_cast<run_state>(state),
                 std::move(reason));
      },
      [=](batch_atom, run_record& leader, std::vector<run_record>& members) {
        store_batch(self, std::move(leader), std::move(members));
      },
      [=](notice_atom, const std::string& trigger, const std::string& type,
          const std::string& note,
          const std::string& key) { notice(self, trigger, type, note, key); },
      [=](launch_atom, run_record& run) {
        auto& st = self->state;
        if (st.active >= st.cfg.max_running) {
          st.queued.push_back(std::move(run));
          if (st.cfg.queued)
            st.cfg.queued->fetch_add(1);
        } else
          begin(self, std::move(run));
      },
      [=](started_atom, bool ok, run_record& run) {
        auto ref = find_trigger(self, run.trigger);
        const auto* trig = ref.entry;
        if (!ok || trig == nullptr) {
          // Not marked running (or the trigger is gone): leave the stored state
          // as it is for recovery and free the slot.
          if (trig != nullptr)
            self->send(trig->governor, release_atom::value, run.id);
          if (auto i = self->state.stopping.find(run.id);
              i != self->state.stopping.end()) {
            answer(i->second.first, 500,
                   error_body("run \"" + run.id
                              + "\" could not be started or stopped"));
            self->state.stopping.erase(i);
          }
          release_slot(self, run.id);
          return;
        }
        if (auto i = self->state.stopping.find(run.id);
            i != self->state.stopping.end()) {
          run_outcome stopped;
          stopped.cancelled = true;
          stopped.error = "cancelled: " + i->second.second
                          + " (before the handler started)";
          self->send(self, outcome_atom::value, std::move(run),
                     std::move(stopped));
          return;
        }
        auto ev = self->state.cfg.db->get_event(run.event_seq);
        if (!ev || !*ev) {
          run_outcome missing;
          missing.error = ev ? "event " + std::to_string(run.event_seq)
                                   + " is no longer stored"
                             : describe(ev.error());
          self->send(self, outcome_atom::value, std::move(run),
                     std::move(missing));
          return;
        }
        auto& metrics = *self->state.cfg.metrics;
        metrics.runs_started.inc(metrics::label("trigger", run.trigger));
        if ((*ev)->received_ns > 0 && run.attempt == 1)
          metrics.event_to_run_seconds.observe(
              static_cast<double>(run.started_ns - (*ev)->received_ns) / 1e9);
        run_request req;
        req.run_id = run.id;
        req.trigger = run.trigger;
        req.attempt = run.attempt;
        for (auto seq : run.flow.batch) {
          if (seq == run.event_seq) {
            req.batch.push_back(**ev);
            continue;
          }
          auto more = self->state.cfg.db->get_event(seq);
          if (more && *more)
            req.batch.push_back(std::move(**more));
          else
            std::cerr << "rouse: batch run " << run.id << ": event " << seq
                      << " is no longer stored; left out\n";
        }
        req.ev = std::move(**ev);
        if (!run.wait.reason.empty()) {
          req.resume = run.wait.reason;
          req.state = run.wait.state;
          if (run.wait.event_seq > 0) {
            auto woke_by = self->state.cfg.db->get_event(run.wait.event_seq);
            if (woke_by && *woke_by)
              req.wake_event.push_back(std::move(**woke_by));
          }
        }
        auto timeout = trig->timeout.count() > 0 ? caf::duration{trig->timeout}
                                                 : caf::duration{caf::infinite};
        self->request(trig->handler, timeout, run_atom::value, std::move(req))
            .then(
                [=](run_outcome& outcome) mutable {
                  self->send(self, outcome_atom::value, std::move(run),
                             std::move(outcome));
                },
                [=](caf::error& err) mutable {
                  run_outcome failed;
                  failed.error = "handler: " + caf::to_string(err);
                  failed.finished_ns = wall_clock_ns();
                  self->send(self, outcome_atom::value, std::move(run),
                             std::move(failed));
                });
      },
      [=](outcome_atom, run_record& run, run_outcome& outcome) {
        auto now = wall_clock_ns();
        run.exit_code = outcome.exit_code;
        run.term_signal = outcome.term_signal;
        run.stdout_text = std::move(outcome.stdout_text);
        run.stderr_text = std::move(outcome.stderr_text);
        run.output_truncated = outcome.output_truncated;
        run.error = outcome.error;
        run.finished_ns = outcome.finished_ns > 0 ? outcome.finished_ns : now;
        run_reply stop_reply;
        if (auto i = self->state.stopping.find(run.id);
            i != self->state.stopping.end()) {
          stop_reply = std::move(i->second.first);
          self->state.stopping.erase(i);
          if (!outcome.cancelled)
            answer(stop_reply, 409,
                   error_body("run \"" + run.id
                              + "\" ended before the cancel took effect"));
        }
        if (outcome.cancelled) {
          self->state.wake_me.erase(run.id);
          run.transition(run_state::cancelled, now,
                         outcome.error.empty() ? "cancelled" : outcome.error);
          self->state.cfg.metrics->runs_finished.inc(
              metrics::label("trigger", run.trigger) + ","
              + metrics::label("outcome", "cancelled"));
          auto id = run.id;
          store_final(self, std::move(run), outcome.cost,
                      std::move(stop_reply));
          release_slot(self, id);
          return;
        }
        if (auto i = self->state.wake_me.find(run.id);
            i != self->state.wake_me.end()) {
          if (outcome.ok && outcome.wait_kind == run_wait::none) {
            outcome.wait_kind = run_wait::sleep;
            outcome.wait_due_ns = i->second.first;
            if (outcome.state.empty())
              outcome.state = std::move(i->second.second);
          }
          self->state.wake_me.erase(i);
        }
        if (outcome.ok && outcome.wait_kind != run_wait::none) {
          auto bad = invalid_wait(outcome);
          if (bad.empty()) {
            go_waiting(self, std::move(run), std::move(outcome), now);
            return;
          }
          // An actor handler asked for a wait that can never resolve: fail
          // the attempt as an exec handler's bad $ROUSE_CONTROL does.
          outcome.ok = false;
          run.error = outcome.error = std::move(bad);
        }
        auto state = outcome.ok ? run_state::succeeded : run_state::failed;
        std::string note = outcome.ok ? "exit 0"
                           : !outcome.error.empty()
                               ? outcome.error
                               : "exit " + std::to_string(outcome.exit_code);
        if (!outcome.ok) {
          auto ref = find_trigger(self, run.trigger);
          config::retry_policy policy;
          if (ref.entry != nullptr && ref.entry->def != nullptr)
            policy = ref.entry->def->retry;
          if (run.attempt < policy.attempts) {
            state = run_state::retrying;
            auto delay = retry_delay(policy, run.attempt);
            // At least 1 ns ahead: 0 means "no wakeup".
            run.wait.due_ns =
                now
                + std::max<int64_t>(
                    1,
                    std::chrono::duration_cast<std::chrono::nanoseconds>(delay)
                        .count());
            note += "; attempt " + std::to_string(run.attempt + 1) + " of "
                    + std::to_string(policy.attempts) + " in "
                    + config::format_duration(delay);
          } else if (policy.attempts > 1) {
            state = run_state::dead;
            note += "; gave up after " + std::to_string(run.attempt)
                    + " attempts (dead-letter queue)";
          }
        }
        run.transition(state, now, std::move(note));
        self->state.cfg.metrics->runs_finished.inc(
            metrics::label("trigger", run.trigger) + ","
            + metrics::label("outcome", to_string(state)));
        auto id = run.id;
        store_final(self, std::move(run), outcome.cost);
        release_slot(self, id);
      },
      [=](waited_atom, bool ok, run_record& run) {
        if (!ok)
          return; // still `running` in the store: recovery retries it
        if (run.wait.due_ns > 0 && self->state.timers)
          self->send(self->state.timers, arm_atom::value,
                     std::vector<wakeup>{wakeup{
                         run.wait.due_ns, run_wakeup_owner(run.id), {}}});
        if (run.wait.kind == run_wait::event)
          watch(self, run);
      },
      [=](wait_atom, run_record& run) { watch(self, run); },
      [=](route_atom, uint64_t, std::vector<event>& events) {
        auto& st = self->state;
        if (st.waits.empty())
          return;
        std::vector<std::string> woken;
        for (const auto& ev : events) {
          woken.clear();
          st.waits.match(ev, woken);
          for (auto& id : woken) {
            st.waits.remove(id);
            st.cfg.waits_active->fetch_sub(1);
            self->send(self, wake_atom::value,
                       wake_request{std::move(id), "event", ev.seq, 0},
                       run_reply{});
          }
        }
      },
      [=](wake_atom, wake_request& req, run_reply& reply) {
        wake(self, std::move(req), std::move(reply));
      },
      [=](wake_me_atom, std::string& run_id, int64_t due_ns, std::string& state,
          run_reply& reply) {
        auto& st = self->state;
        if (st.active_ids.count(run_id) == 0) {
          answer(reply, 409,
                 error_body("run \"" + run_id
                            + "\" is not running here; wake-me is for a "
                              "run's own process"));
          return;
        }
        st.wake_me[run_id] = {due_ns, std::move(state)};
        json::object_writer w;
        w.field("run", run_id).field("wake_at", json::format_rfc3339(due_ns));
        answer(reply, 200, w.finish());
      },
      [=](cancel_atom, std::string& run_id, run_reply& reply) {
        cancel(self, run_id, std::move(reply));
      },
      [=](stop_atom, std::string& run_id, std::string& reason) {
        // From a governor (singleton cancel): only if it still runs here.
        if (self->state.active_ids.count(run_id) == 0)
          return;
        auto run = self->state.cfg.db->get_run(run_id);
        if (run && *run)
          stop_running(self, run_id, (*run)->trigger, std::move(reason), {});
      },
      [=](settled_atom, bool ok, run_record& run, run_reply& reply,
          int64_t disarmed_due) {
        settled(self, ok, std::move(run), std::move(reply), disarmed_due);
      },
  };
}

} // namespace

dispatcher_actor spawn_dispatcher(caf::actor_system& sys,
                                  dispatcher_config cfg) {
  return sys.spawn(dispatcher, std::move(cfg));
}

} // namespace rouse
