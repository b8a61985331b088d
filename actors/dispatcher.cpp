// Dispatcher behavior. Every transition is committed before the next step
// happens, so a crash at any point leaves a state that recovery can resume from
// (running -> retried).
#include "actors/dispatcher.hpp"

#include "runtime/config/config.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <deque>
#include <iostream>
#include <random>
#include <unordered_map>

namespace rouse {

namespace {

struct dispatcher_state {
  dispatcher_config cfg;
  /// Runs between launch and outcome (each holds one execution slot).
  uint32_t active = 0;
  /// Admitted runs waiting for a slot, oldest first (still `pending` in the
  /// store).
  std::deque<run_record> queued;
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

// Stores `run` and, once committed, releases its slot at the governor of its
// trigger; a retrying run is admitted there again after `retry_after`.
void store_final(dispatcher_pointer self, run_record run,
                 std::chrono::milliseconds retry_after = {}) {
  auto ref = find_trigger(self, run.trigger);
  store::run_op op;
  auto run_id = run.id;
  bool retry = run.current() == run_state::retrying;
  op.run = run;
  governor_actor governor =
      ref.entry != nullptr ? ref.entry->governor : governor_actor{};
  op.done = [governor, run_id, retry, retry_after,
             run = retry ? std::move(run) : run_record{}](caf::error err) {
    if (err)
      std::cerr << "rouse: storing the outcome of run " << run_id
                << " failed: " << describe(err) << "\n";
    if (!governor)
      return;
    caf::anon_send(governor, release_atom::value, run_id);
    // Only once the retrying state is stored, so the next attempt's
    // transitions can never be overwritten by it.
    if (retry && !err)
      caf::delayed_anon_send(governor, retry_after, admit_atom::value, run);
  };
  self->state.cfg.journal->submit(std::move(op));
}

// Takes an execution slot, stores `run` as running and, once that is committed,
// continues in the started_atom handler.
void begin(dispatcher_pointer self, run_record run) {
  ++self->state.active;
  auto now = wall_clock_ns();
  run.attempt += 1;
  run.started_ns = now;
  run.transition(run_state::running, now,
                 "attempt " + std::to_string(run.attempt));
  store::run_op op;
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

// Frees one execution slot and begins queued runs while slots are free.
void release_slot(dispatcher_pointer self) {
  auto& st = self->state;
  if (st.active > 0)
    --st.active;
  while (!st.queued.empty() && st.active < st.cfg.max_running) {
    auto next = std::move(st.queued.front());
    st.queued.pop_front();
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

dispatcher_actor::behavior_type dispatcher(dispatcher_pointer self,
                                           dispatcher_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
      [=](launch_atom, run_record& run) {
        auto& st = self->state;
        if (st.active >= st.cfg.max_running)
          st.queued.push_back(std::move(run));
        else
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
          release_slot(self);
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
        run_request req{run.id, run.trigger, run.attempt, std::move(**ev)};
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
        auto state = outcome.ok ? run_state::succeeded : run_state::failed;
        std::string note = outcome.ok ? "exit 0"
                           : !outcome.error.empty()
                               ? outcome.error
                               : "exit " + std::to_string(outcome.exit_code);
        std::chrono::milliseconds delay{0};
        if (!outcome.ok) {
          auto ref = find_trigger(self, run.trigger);
          config::retry_policy policy;
          if (ref.entry != nullptr && ref.entry->def != nullptr)
            policy = ref.entry->def->retry;
          if (run.attempt < policy.attempts) {
            state = run_state::retrying;
            delay = retry_delay(policy, run.attempt);
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
        store_final(self, std::move(run), delay);
        release_slot(self);
      },
  };
}

} // namespace

dispatcher_actor spawn_dispatcher(caf::actor_system& sys,
                                  dispatcher_config cfg) {
  return sys.spawn(dispatcher, std::move(cfg));
}

} // namespace rouse
