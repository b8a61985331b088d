// Run rendering.
#include "runtime/api/render.hpp"

#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"

namespace rouse::api {

std::string render_run(const run_record& run, bool with_output) {
  json::object_writer w;
  w.field("id", run.id)
      .field("trigger", run.trigger)
      .field("event_seq", run.event_seq)
      .field("event_id", run.event_id)
      .field("event_type", run.event_type)
      .field("state", to_string(run.current()))
      .field("attempt", run.attempt)
      .field("exit_code", run.exit_code);
  if (run.term_signal != 0)
    w.field("signal", run.term_signal);
  if (!run.error.empty())
    w.field("error", run.error);
  if (run.cost > 0)
    w.field("cost", run.cost);
  w.field("created_at", json::format_rfc3339(run.created_ns));
  if (run.started_ns > 0)
    w.field("started_at", json::format_rfc3339(run.started_ns));
  if (run.finished_ns > 0)
    w.field("finished_at", json::format_rfc3339(run.finished_ns));
  if (with_output) {
    w.field("stdout", run.stdout_text)
        .field("stderr", run.stderr_text)
        .field("output_truncated", run.output_truncated);
  }
  const auto& wt = run.wait;
  if (wt.kind != run_wait::none || wt.resumes > 0) {
    json::object_writer wait;
    if (wt.kind == run_wait::sleep) {
      wait.field("kind", "sleep")
          .field("until", json::format_rfc3339(wt.due_ns));
    } else if (wt.kind == run_wait::event) {
      wait.field("kind", "event").raw("pattern", wt.pattern);
      wait.field("since_seq", wt.since_seq);
      if (wt.due_ns > 0)
        wait.field("timeout_at", json::format_rfc3339(wt.due_ns));
    }
    if (!wt.state.empty())
      wait.raw("state", wt.state);
    wait.field("resumes", wt.resumes);
    if (!wt.reason.empty())
      wait.field("woke_by", wt.reason);
    if (wt.event_seq > 0)
      wait.field("wake_event_seq", wt.event_seq);
    w.raw("wait", wait.finish());
  }
  json::array_writer history;
  for (const auto& t : run.history) {
    json::object_writer h;
    h.field("state", to_string(static_cast<run_state>(t.state)))
        .field("at", json::format_rfc3339(t.at_ns));
    if (!t.note.empty())
      h.field("note", t.note);
    history.raw(h.finish());
  }
  w.raw("history", history.finish());
  return w.finish();
}

} // namespace rouse::api
