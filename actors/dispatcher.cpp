// Dispatcher behavior. Every transition is committed before the next step
// happens, so a crash at any point leaves a state that recovery can resume from
// (running -> retried). The steps the handlers call are declared in
// dispatcher_impl.hpp.
#include "actors/dispatcher_impl.hpp"

#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <algorithm>
#include <iostream>

namespace rouse::dispatcher_detail {

namespace {

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

} // namespace rouse::dispatcher_detail

namespace rouse {

dispatcher_actor spawn_dispatcher(caf::actor_system& sys,
                                  dispatcher_config cfg) {
  return sys.spawn(dispatcher_detail::dispatcher, std::move(cfg));
}

} // namespace rouse
