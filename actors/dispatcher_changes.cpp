// Wakes and cancels of stored runs (by the API, a timer or an event): each is
// read, checked and committed with its wakeup deleted, one at a time per run,
// and settled() continues once it is durable. Running runs are stopped through
// their exec handler instead.
#include "actors/dispatcher_impl.hpp"

#include "runtime/json/writer.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <iostream>

namespace rouse::dispatcher_detail {

void answer(const run_reply& reply, int status, std::string body) {
  if (reply)
    reply(status, std::move(body));
}

std::string error_body(std::string_view message) {
  json::object_writer w;
  w.field("error", message);
  return w.finish();
}

namespace {

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

} // namespace

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

} // namespace rouse::dispatcher_detail
