#!/usr/bin/env python3
"""Run events: triggers chain on other triggers' runs.

With the real binary and the default `node.run_events: auto`:
- when `review` succeeds, `notify` (on rouse.run.succeeded of review) runs and receives a
  rouse.run.succeeded event (source "rouse", subject "review") whose data names the run,
  its trigger, attempt, exit code and the event that started it;
- when `review` fails, `fix` (on rouse.run.failed) runs, and `notify` does not;
- a catch-all trigger (`on: {}`) runs for outside events only, never for run events;
- a trigger that chains on its own success stops at max_depth: the next run is created
  `dead` with the loop-cut chain (run events are one causation step deeper than the
  run's event);
- a circuit breaker opens after 2 failures (rouse.trigger.circuit_open runs `alarm`),
  holds the next run for its cool-off, and closes when that probe succeeds
  (rouse.trigger.circuit_closed);
- with `run_events: false`, no run event is stored."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, json_lines,  # noqa: E402
                     parse_args, run_id_for, run_test, wait_until)

MAX_DEPTH = 3

TRIGGERS = """\
  review:
    on: { type: [demo.review] }
    run: { exec: ["{dir}/review.sh"], timeout: 30s }
  notify:
    on: { source: [rouse], type: [rouse.run.succeeded], subject: [review] }
    run: { exec: ["{dir}/save.sh", "{dir}/notify.log"], timeout: 30s }
  fix:
    on: { type: [rouse.run.failed], data: { trigger: [review] } }
    run: { exec: ["{dir}/save.sh", "{dir}/fix.log"], timeout: 30s }
  everything:
    on: {}
    run: { exec: ["{dir}/save.sh", "{dir}/everything.log"], timeout: 30s }
  echo:
    on: { type: [demo.echo, rouse.run.succeeded], subject: [echo] }
    run: { exec: ["{dir}/save.sh", "{dir}/echo.log"], timeout: 30s }
  flaky:
    on: { type: [demo.flaky] }
    run: { exec: ["/bin/sh", "-c", "cat >/dev/null; test -f {dir}/healed"], timeout: 30s }
    concurrency: 1
    circuit: { failures: 2, cool_off: 3s }
  alarm:
    on: { type: [{ prefix: rouse.trigger.circuit_ }] }
    run: { exec: ["{dir}/save.sh", "{dir}/alarm.log"], timeout: 30s }
"""

REVIEW = """#!/bin/sh
grep -q '"ok":true' && exit 0
exit 3
"""

# Appends stdin as one line, in one write so that concurrent runs do not
# interleave.
SAVE = """#!/bin/sh
line=$(tr -d '\\n')
printf '%s\\n' "$line" >> "$1"
"""


def lines(srv, name):
    return json_lines(srv.path(name))


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, node_extra={"max_depth": MAX_DEPTH},
                      name="runevents", keep=args.keep)
    srv.write_script("review.sh", REVIEW)
    srv.write_script("save.sh", SAVE)
    srv.start()

    # --- success chains to notify ---
    seq = srv.post_events(cloudevent("demo.review", id_="pr-1", data={"ok": True}))
    check(seq.status == 202, "event accepted: %r" % seq)
    seq = seq.json["events"][0]["seq"]
    review_run = run_id_for(seq, "review")
    got = wait_until(lambda: lines(srv, "notify.log"), 30, "notify to run")
    check_eq(len(got), 1, "notify runs once for one review")
    ev = got[0]
    check_eq((ev["source"], ev["type"], ev["subject"]),
             ("rouse", "rouse.run.succeeded", "review"), "the run event's attributes")
    data = ev["data"]
    check_eq((data["run"], data["trigger"], data["state"], data["attempt"],
              data["exit_code"]), (review_run, "review", "succeeded", 1, 0),
             "the run event's data")
    check_eq((data["event"]["id"], data["event"]["seq"], data["event"]["source"]),
             ("pr-1", seq, "test"), "the event that started the run")
    stored = {e["id"]: e for e in
              srv.get_json("/api/events?after=0&limit=1000")["events"]}
    meta = stored[ev["id"]]["rouse"]
    check_eq((meta["depth"], meta.get("cause"), meta["received_by"]),
             (1, "pr-1", "run:review"),
             "a run event is one step deeper than its run's, emitted by the run")

    # --- failure chains to fix, not to notify ---
    srv.post_events(cloudevent("demo.review", id_="pr-2", data={"ok": False}))
    got = wait_until(lambda: lines(srv, "fix.log"), 30, "fix to run")
    check_eq(got[0]["type"], "rouse.run.failed", "fix gets the failure")
    check_eq(got[0]["data"]["exit_code"], 3, "the failure's exit code")

    # --- a trigger chained on itself stops at max_depth ---
    srv.post_events(cloudevent("demo.echo", id_="echo-1", subject="echo"))

    def echo_dead():
        runs = srv.runs(trigger="echo")
        return runs if any(r["state"] == "dead" for r in runs) else None
    runs = wait_until(echo_dead, 30, "the echo chain to be cut")
    states = sorted(r["state"] for r in runs)
    check_eq(states, ["dead"] + ["succeeded"] * (MAX_DEPTH + 1), "echo runs")
    dead = [r for r in runs if r["state"] == "dead"][0]
    check("loop cut" in dead["error"], "the cut run says why: %r" % dead["error"])

    # --- the catch-all trigger saw only the three outside events ---
    def settled():
        return len(srv.runs(state="running")) == 0 and len(srv.runs(state="pending")) == 0
    wait_until(settled, 30, "every run to finish")
    seen = sorted(e["id"] for e in lines(srv, "everything.log"))
    check_eq(seen, ["echo-1", "pr-1", "pr-2"], "events the catch-all trigger ran for")
    check_eq(len(lines(srv, "notify.log")), 1, "notify did not run for the failure")
    stored = srv.get_json("/api/events?after=0&limit=1000")["events"]
    check(any(e["type"] == "rouse.run.started" for e in stored),
          "rouse.run.started events are stored")
    # --- circuit breaker ---
    seqs = []
    for i in range(3):
        r = srv.post_events(cloudevent("demo.flaky", id_="f-%d" % i))
        seqs.append(r.json["events"][0]["seq"])
    opened = wait_until(lambda: lines(srv, "alarm.log"), 30, "the circuit to open")
    check_eq((opened[0]["type"], opened[0]["subject"]),
             ("rouse.trigger.circuit_open", "flaky"), "the alarm's event")
    runs = {r["id"]: r for r in srv.runs(trigger="flaky")}
    third = run_id_for(seqs[2], "flaky")
    check_eq(runs[third]["state"], "pending", "the probe waits for the cool-off")
    with open(srv.path("healed"), "w"):
        pass
    probe = srv.wait_run_finished(third)
    check_eq(probe["state"], "succeeded", "the probe after the cool-off")
    second_done = srv.run(run_id_for(seqs[1], "flaky"))["history"][-1]["at"]
    started = [h["at"] for h in probe["history"] if h["state"] == "running"][0]
    check(started >= second_done, "the probe started after the circuit opened")
    closed = wait_until(lambda: [e for e in lines(srv, "alarm.log")
                                 if e["type"] == "rouse.trigger.circuit_closed"],
                        30, "the circuit to close")
    check("succeeded" in closed[0]["data"]["note"], "closing note: %r" % closed[0])
    srv.stop()

    # --- run_events: false ---
    quiet = RouseServer(args.rouse, TRIGGERS,
                        node_extra={"max_depth": MAX_DEPTH, "run_events": "false"},
                        name="runevents-off", keep=args.keep)
    quiet.write_script("review.sh", REVIEW)
    quiet.write_script("save.sh", SAVE)
    quiet.start()
    r = quiet.post_events(cloudevent("demo.review", id_="pr-3", data={"ok": True}))
    quiet.wait_run_finished(run_id_for(r.json["events"][0]["seq"], "review"))
    wait_until(lambda: lines(quiet, "everything.log"), 30, "the catch-all run")
    ids = [e["id"] for e in quiet.get_json("/api/events?after=0&limit=100")["events"]]
    check_eq(ids, ["pr-3"], "with run_events false only the outside event is stored")
    check_eq(lines(quiet, "notify.log"), [], "no chain without run events")
    return "run events: chain on success and failure, catch-all untouched, loop cut"


if __name__ == "__main__":
    run_test("run_events", main)
