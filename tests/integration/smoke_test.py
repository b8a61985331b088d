#!/usr/bin/env python3
"""Smoke test: one event runs a handler that succeeds, one that fails; the event, the
run (with the handler's stdout), /healthz and /metrics show it."""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_id_for, run_test, wait_until)

TRIGGERS = """\
  hello:
    on: { source: [smoke], type: [demo.hello] }
    run: { exec: ["{dir}/hello.sh", "first-arg"], timeout: 30s, env: { GREETING: hi } }
  broken:
    on: { source: [smoke], type: [demo.broken] }
    run: { exec: ["{dir}/broken.sh"], timeout: 30s }
"""

HELLO = """#!/bin/sh
echo "stdin=$(cat)"
echo "arg=$1 greeting=$GREETING"
echo "event_id=$ROUSE_EVENT_ID"
echo "attempt=$ROUSE_ATTEMPT"
echo "trigger=$ROUSE_TRIGGER"
echo "type=$ROUSE_EVENT_TYPE source=$ROUSE_EVENT_SOURCE seq=$ROUSE_EVENT_SEQ"
echo "run_id=$ROUSE_RUN_ID"
echo "api=$ROUSE_API"
"""

BROKEN = """#!/bin/sh
echo "about to fail" >&2
exit 3
"""


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="smoke", keep=args.keep)
    srv.write_script("hello.sh", HELLO)
    srv.write_script("broken.sh", BROKEN)
    srv.start()
    check_eq(srv.last_seq_at_start, 0, "last seq printed on the first start")

    health = srv.healthz()
    check_eq(health.get("status"), "ok", "healthz status before any event")
    check_eq(health.get("last_seq"), 0, "healthz last_seq before any event")

    # --- a succeeding run ---
    ev = cloudevent("demo.hello", "smoke", "smoke-1", data={"name": "Ada", "n": 42})
    r = srv.post_events(ev)
    check_eq(r.status, 202, "status of POST /api/events (new event) %r" % r)
    items = r.json["events"]
    check_eq(len(items), 1, "number of items in the POST answer")
    check_eq(items[0]["id"], "smoke-1", "id in the POST answer")
    check_eq(items[0]["duplicate"], False, "duplicate flag of a new event")
    seq = items[0]["seq"]
    check_eq(seq, 1, "seq of the first event")

    run_id = run_id_for(seq, "hello")
    run = srv.wait_run_finished(run_id)
    check_eq(run["state"], "succeeded", "state of run %s (%r)" % (run_id, run))
    check_eq(run["exit_code"], 0, "exit code of run %s" % run_id)
    check_eq(run["attempt"], 1, "attempt of run %s" % run_id)
    check_eq(run["trigger"], "hello", "trigger of run %s" % run_id)
    check_eq(run["event_id"], "smoke-1", "event_id of run %s" % run_id)
    check_eq(run["event_seq"], seq, "event_seq of run %s" % run_id)
    states = [h["state"] for h in run["history"]]
    check_eq(states, ["pending", "running", "succeeded"], "history of run %s" % run_id)

    out = run["stdout"]
    lines = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    # stdin: the CloudEvent JSON, with the data exactly as sent.
    stdin_event = json.loads(lines.get("stdin", "null") or "null")
    check(isinstance(stdin_event, dict), "handler stdin is not a JSON object: %r" % out)
    check_eq(stdin_event.get("id"), "smoke-1", "id of the event on the handler's stdin")
    check_eq(stdin_event.get("type"), "demo.hello", "type on stdin")
    check_eq(stdin_event.get("source"), "smoke", "source on stdin")
    check_eq(stdin_event.get("specversion"), "1.0", "specversion on stdin")
    check_eq(stdin_event.get("data"), {"name": "Ada", "n": 42}, "data on stdin")
    check("arg=first-arg greeting=hi" in out,
          "handler argv/env from the config missing in stdout: %r" % out)
    check_eq(lines.get("event_id"), "smoke-1", "ROUSE_EVENT_ID seen by the handler")
    check_eq(lines.get("attempt"), "1", "ROUSE_ATTEMPT seen by the handler")
    check_eq(lines.get("trigger"), "hello", "ROUSE_TRIGGER seen by the handler")
    check_eq(lines.get("run_id"), run_id, "ROUSE_RUN_ID seen by the handler")
    check("type=demo.hello source=smoke seq=%d" % seq in out,
          "ROUSE_EVENT_TYPE/SOURCE/SEQ wrong in stdout: %r" % out)
    check_eq(lines.get("api"), srv.url, "ROUSE_API seen by the handler")

    # GET /api/events/{id}
    stored = srv.get_json("/api/events/smoke-1")
    check_eq(stored.get("id"), "smoke-1", "GET /api/events/smoke-1 id")
    check_eq(stored.get("type"), "demo.hello", "GET /api/events/smoke-1 type")
    check_eq(stored.get("source"), "smoke", "GET /api/events/smoke-1 source")
    check_eq(stored.get("data"), {"name": "Ada", "n": 42}, "GET /api/events/smoke-1 data")
    check_eq(stored.get("rouse", {}).get("seq"), seq, "GET /api/events/smoke-1 rouse.seq")
    missing = srv.get("/api/events/no-such-event")
    check_eq(missing.status, 404, "GET of an unknown event id (%r)" % missing)
    check(missing.json is not None and "error" in missing.json,
          "404 answer has no error message: %r" % missing)
    listed = srv.get_json("/api/events?after=0")["events"]
    check_eq([e["id"] for e in listed], ["smoke-1"], "GET /api/events?after=0 ids")

    # --- a failing run (exit 3) ---
    r = srv.post_events(cloudevent("demo.broken", "smoke", "smoke-2"))
    check_eq(r.status, 202, "status of POST of the failing event %r" % r)
    seq2 = r.json["events"][0]["seq"]
    check_eq(seq2, 2, "seq of the second event")
    run2_id = run_id_for(seq2, "broken")
    run2 = srv.wait_run_finished(run2_id)
    check_eq(run2["state"], "failed", "state of run %s (%r)" % (run2_id, run2))
    check_eq(run2["exit_code"], 3, "exit code of run %s" % run2_id)
    check("about to fail" in run2["stderr"],
          "stderr of run %s lacks the handler's message: %r" % (run2_id, run2["stderr"]))
    # The event matched only `broken`: no run of `hello` for it.
    check_eq(srv.get("/api/runs/" + run_id_for(seq2, "hello")).status, 404,
             "a run of 'hello' for the demo.broken event")

    # Run listings.
    all_runs = srv.runs()
    check_eq(sorted(r["id"] for r in all_runs), sorted([run_id, run2_id]),
             "ids in GET /api/runs")
    check_eq([r["id"] for r in srv.runs(state="failed")], [run2_id],
             "GET /api/runs?state=failed")
    check_eq([r["id"] for r in srv.runs(trigger="hello")], [run_id],
             "GET /api/runs?trigger=hello")

    health = srv.healthz()
    check_eq(health.get("status"), "ok", "healthz status")
    check_eq(health.get("last_seq"), 2, "healthz last_seq after two events")

    def metrics_ready():
        text = srv.get("/metrics").text
        return text if 'outcome="failed"} 1' in text else None
    metrics = wait_until(metrics_ready, 10, "the failed run in /metrics")
    for line in ['rouse_runs_finished_total{trigger="hello",outcome="succeeded"} 1',
                 'rouse_runs_finished_total{trigger="broken",outcome="failed"} 1',
                 'rouse_events_received_total{source="api"} 2',
                 'rouse_journal_last_seq 2']:
        check(line in metrics.splitlines(), "/metrics lacks the line %r:\n%s"
              % (line, metrics))

    rc = srv.stop()
    check_eq(rc, 0, "exit code of rouse after SIGTERM")
    return "2 events, runs %s succeeded and %s failed(3), healthz+metrics ok" % (
        run_id, run2_id)


if __name__ == "__main__":
    run_test("smoke", main)
