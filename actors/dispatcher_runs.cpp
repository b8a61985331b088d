// A run's lifecycle in the dispatcher: taking a slot and storing the run as
// running (begin), storing its outcome and releasing its slot (store_final),
// the delay before a retry, and storing runs its governor skipped or batched.
// The handlers that drive these steps are in dispatcher.cpp.
#include "actors/dispatcher_impl.hpp"

#include "runtime/metrics/metrics.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <algorithm>
#include <iostream>
#include <random>

namespace rouse::dispatcher_detail {

trigger_ref find_trigger(dispatcher_pointer self, const std::string& name) {
  trigger_ref ref;
  ref.table = self->state.cfg.triggers->load();
  if (ref.table)
    ref.entry = ref.table->find(name);
  return ref;
}

namespace {

// The budget key of `run` under the budget of trigger `ref`, if it has one.
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

} // namespace

// Stores `run` and, once committed, releases its slot at the governor of its
// trigger. A cost the attempt reported (> 0) is added to the run and charged
// to the trigger's budget in the same transaction. A waiting run's wakeup, and
// a retrying run's wakeup for its next attempt (wait.due_ns), are stored with
// it; once both are durable the timer service holds the wakeup, and for a
// waiting run the dispatcher learns it (waited).
void store_final(dispatcher_pointer self, run_record run, double cost,
                 run_reply reply) {
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

} // namespace rouse::dispatcher_detail
