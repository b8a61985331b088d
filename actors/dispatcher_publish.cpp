// The rouse.* events the dispatcher publishes (node.run_events): one
// rouse.run.* event per run transition, committed with it, and the circuit
// breaker's trigger events.
#include "actors/dispatcher_impl.hpp"

#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <iostream>

namespace rouse::dispatcher_detail {

namespace {

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

} // namespace

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

} // namespace rouse::dispatcher_detail
