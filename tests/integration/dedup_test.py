#!/usr/bin/env python3
"""Dedup: the same (source, id) posted again answers 200 with the original seq, also
after a clean restart on the same data dir; exactly one run exists for it; the same id
under another source is a new event; a batch mixing new and duplicate events is 202
with per-event duplicate flags."""

import os
import signal
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, log_rows,  # noqa: E402
                     parse_args, run_id_for, run_test, wait_until)

TRIGGERS = """\
  count:
    on: { type: [demo.dedup] }
    run: { exec: ["{dir}/count.sh"], timeout: 30s }
"""

COUNT = """#!/bin/sh
cat >/dev/null
echo "$ROUSE_RUN_ID $ROUSE_EVENT_SOURCE $ROUSE_EVENT_ID" >> "{dir}/executions.log"
"""


def one(r, what):
    check(r.json is not None and len(r.json.get("events", [])) == 1,
          "%s: expected one item in the answer, got %r" % (what, r))
    return r.json["events"][0]


def executions(srv):
    return log_rows(srv.path("executions.log"))


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="dedup", keep=args.keep)
    srv.write_script("count.sh", COUNT.replace("{dir}", srv.dir))
    srv.start()

    ev = cloudevent("demo.dedup", "src-a", "dup-1", data={"v": 1})
    r1 = srv.post_events(ev)
    check_eq(r1.status, 202, "first POST of (src-a, dup-1) (%r)" % r1)
    a1 = one(r1, "first POST")
    check_eq(a1["duplicate"], False, "duplicate flag of the first POST")
    seq = a1["seq"]

    # Same (source, id), even with a different payload: a duplicate.
    r2 = srv.post_events(cloudevent("demo.dedup", "src-a", "dup-1", data={"v": 2}))
    check_eq(r2.status, 200, "second POST of (src-a, dup-1) (%r)" % r2)
    a2 = one(r2, "second POST")
    check_eq(a2["duplicate"], True, "duplicate flag of the second POST")
    check_eq(a2["seq"], seq, "seq of the duplicate")
    check_eq(a2["id"], "dup-1", "id of the duplicate")
    check_eq(srv.healthz()["last_seq"], seq, "last_seq after the duplicate")
    stored = srv.get_json("/api/events/dup-1")
    check_eq(stored["data"], {"v": 1}, "the stored event keeps the first payload")

    run_id = run_id_for(seq, "count")
    run = srv.wait_run_finished(run_id)
    check_eq(run["state"], "succeeded", "state of run %s" % run_id)

    # Clean restart on the same data dir: still a duplicate.
    old_port = srv.port
    check_eq(srv.stop(signal.SIGTERM), 0, "exit code after SIGTERM")
    srv.start()
    check_eq(srv.last_seq_at_start, seq, "last seq printed after the restart")
    r3 = srv.post_events(ev)
    check_eq(r3.status, 200, "POST of (src-a, dup-1) after the restart (%r)" % r3)
    a3 = one(r3, "POST after restart")
    check_eq(a3["duplicate"], True, "duplicate flag after the restart")
    check_eq(a3["seq"], seq, "seq of the duplicate after the restart")

    # Also after a SIGINT stop.
    check_eq(srv.stop(signal.SIGINT), 0, "exit code after SIGINT")
    srv.start()
    r4 = srv.post_events(ev)
    check_eq((r4.status, one(r4, "POST after SIGINT restart")["seq"]), (200, seq),
             "status and seq of the duplicate after a SIGINT restart")

    # Same id, another source: a new event with its own run.
    r5 = srv.post_events(cloudevent("demo.dedup", "src-b", "dup-1"))
    check_eq(r5.status, 202, "POST of (src-b, dup-1) (%r)" % r5)
    a5 = one(r5, "POST with another source")
    check_eq(a5["duplicate"], False, "duplicate flag of (src-b, dup-1)")
    check(a5["seq"] > seq, "seq of (src-b, dup-1) %d is not after %d" % (a5["seq"], seq))
    run_b = srv.wait_run_finished(run_id_for(a5["seq"], "count"))
    check_eq(run_b["state"], "succeeded", "state of the run of (src-b, dup-1)")
    r = srv.get("/api/events/dup-1?source=src-b")
    check_eq((r.status, r.json and r.json.get("source")), (200, "src-b"),
             "GET /api/events/dup-1?source=src-b")
    r = srv.get("/api/events/dup-1?source=src-a")
    check_eq((r.status, r.json and r.json.get("rouse", {}).get("seq")), (200, seq),
             "GET /api/events/dup-1?source=src-a")

    # A batch mixing a duplicate and a new event: 202, flags per event, and
    # duplicates inside one batch collapse to one event.
    batch = [cloudevent("demo.dedup", "src-a", "dup-1"),
             cloudevent("demo.dedup", "src-a", "dup-2"),
             cloudevent("demo.dedup", "src-a", "dup-2")]
    r6 = srv.post_events(batch)
    check_eq(r6.status, 202, "mixed batch status (%r)" % r6)
    items = r6.json["events"]
    check_eq([(i["id"], i["duplicate"]) for i in items],
             [("dup-1", True), ("dup-2", False), ("dup-2", True)],
             "mixed batch (id, duplicate) items")
    check_eq(items[0]["seq"], seq, "seq of the duplicate in the batch")
    check_eq(items[2]["seq"], items[1]["seq"],
             "seq of the in-batch duplicate of dup-2")
    seq2 = items[1]["seq"]
    r7 = srv.post_events(batch)
    check_eq(r7.status, 200, "the same batch again: all duplicates (%r)" % r7)
    check_eq([i["seq"] for i in r7.json["events"]], [seq, seq2, seq2],
             "seqs of the repeated batch")
    srv.wait_run_finished(run_id_for(seq2, "count"))

    # Exactly one run per stored event; the handler ran once for each.
    expected = {run_id: ("src-a", "dup-1"),
                run_id_for(a5["seq"], "count"): ("src-b", "dup-1"),
                run_id_for(seq2, "count"): ("src-a", "dup-2")}
    runs = srv.runs()
    check_eq(sorted(r["id"] for r in runs), sorted(expected), "ids of all runs")
    check_eq(len([r for r in runs if r["event_id"] == "dup-1"]), 2,
             "runs with event_id dup-1 (one per source)")
    check(all(r["state"] == "succeeded" for r in runs), "not all runs succeeded: %r"
          % runs)
    execs = wait_until(lambda: (lambda e: e if len(e) >= 3 else None)(executions(srv)),
                       10, "three handler executions in the log")
    check_eq(sorted((e[0], e[1], e[2]) for e in execs),
             sorted((k, v[0], v[1]) for k, v in expected.items()),
             "handler executions (run id, source, id)")
    check_eq(srv.healthz()["last_seq"], seq2, "final last_seq")
    listed = srv.get_json("/api/events?after=0")["events"]
    check_eq([(e["source"], e["id"]) for e in listed],
             [("src-a", "dup-1"), ("src-b", "dup-1"), ("src-a", "dup-2")],
             "stored events")
    check_eq(srv.stop(), 0, "exit code after SIGTERM")
    return "duplicates answered 200 with seq %d before/after 2 restarts; 3 events, " \
           "3 runs, 3 executions" % seq


if __name__ == "__main__":
    run_test("dedup", main)
