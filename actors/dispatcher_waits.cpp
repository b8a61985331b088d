// Waits in the dispatcher: checking the wait an attempt asks for, storing the
// run as waiting, and watching for the event that wakes it (the lookback
// through the journal, then the wait set the route handler matches).
#include "actors/dispatcher_impl.hpp"

#include "runtime/json/cloudevent.hpp"
#include "runtime/match/matcher.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/store/store.hpp"

#include <iostream>
#include <memory>

namespace rouse::dispatcher_detail {

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

} // namespace rouse::dispatcher_detail
