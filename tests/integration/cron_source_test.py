#!/usr/bin/env python3
"""Cron sources with the real binary:
- an `@every 1s` schedule fires tick events whose id is the nominal time (ISO 8601
  with offset), one run per tick, with the tick's facts in `data`;
- overlap `skip` records ticks as skipped_overlap while the previous run still runs;
- after a SIGKILL and a restart several seconds later, catch-up `last` fires exactly
  one late tick and records the others as missed_catchup; no tick id is stored twice;
- GET /api/schedules/{id} and `rouse timers` show the outcomes;
- a bad cron source is reported by `rouse check` with file, line and reason."""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, parse_args,  # noqa: E402
                     run_test, wait_until)

SOURCES = """\
sources:
  fast: { kind: cron, schedule: "@every 1s", type: demo.tick }
  slow: { kind: cron, schedule: "@every 1s", overlap: skip, type: demo.slowtick }
"""

TRIGGERS = """\
  on-fast:
    on: { source: [fast] }
    run: { exec: ["/bin/sh", "-c", "cat > /dev/null"], timeout: 30s }
  on-slow:
    on: { source: [slow] }
    run: { exec: ["/bin/sh", "-c", "cat > /dev/null; sleep 2.5"], timeout: 30s }
"""


def events_of(srv, source):
    r = srv.get_json("/api/events?limit=1000")
    return [e for e in r["events"] if e["source"] == source]


def schedule(srv, name):
    return srv.get_json("/api/schedules/" + name)


def outcomes(sched):
    return [t["outcome"] for t in sched["ticks"]]


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="cron", keep=args.keep)
    with open(srv.config_path) as f:
        text = f.read()
    srv.write_config(text.replace("triggers:\n", SOURCES + "triggers:\n", 1))
    srv.start()

    # --- ticks fire as events named by their nominal time ---
    wait_until(lambda: len(events_of(srv, "fast")) >= 3, 20, "three fast ticks")
    evs = events_of(srv, "fast")
    for e in evs:
        check_eq(e["type"], "demo.tick", "tick type")
        check(e["id"].endswith("+00:00"), "tick id is ISO 8601 with offset: %r"
              % e["id"])
        check_eq(e["data"]["nominal"], e["id"], "data.nominal")
        check_eq(e["data"]["schedule"], "@every 1s", "data.schedule")
    # --- overlap skip ---
    wait_until(lambda: "skipped_overlap" in outcomes(schedule(srv, "slow")), 20,
               "a slow tick skipped for overlap")
    sched = schedule(srv, "slow")
    check(sched["skipped"] >= 1, "slow schedule counts skips: %r" % sched)
    check_eq(sched["overlap"], "skip", "overlap policy shown")

    # --- kill -9, stay down ~4 s, restart: catch-up last ---
    srv.kill9()
    down_at = time.time()
    time.sleep(4)
    srv.start()
    wait_until(lambda: "missed_catchup" in outcomes(schedule(srv, "fast")), 20,
               "missed ticks recorded after the restart")
    sched = schedule(srv, "fast")
    late_fired = [t for t in sched["ticks"]
                  if t["outcome"] == "fired" and t["late_ms"] > 1500]
    check(len(late_fired) <= 1, "catch-up last fired at most one late tick: %r"
          % late_fired)
    missed = [t for t in sched["ticks"] if t["outcome"] == "missed_catchup"]
    check(len(missed) >= 2, "ticks while down are missed: %r" % sched["ticks"])
    for t in missed:
        check(t["nominal"] > time.strftime("%Y-%m-%dT%H:%M:%S",
                                           time.gmtime(down_at - 2)),
              "missed tick %r is from the downtime" % t)
    time.sleep(1.5)
    ids = [e["id"] for e in events_of(srv, "fast")]
    check_eq(len(ids), len(set(ids)), "tick ids stored once each")
    runs = srv.get_json("/api/runs?trigger=on-fast&limit=1000")["runs"]
    check_eq(len(runs), len({r["event_id"] for r in runs}), "one run per tick")

    # --- rouse timers ---
    out = subprocess.run([srv.rouse, "timers", "--server", srv.url],
                         capture_output=True, text=True, timeout=30)
    check_eq(out.returncode, 0, "rouse timers exit code\n" + out.stderr)
    check("fast" in out.stdout and "@every 1s" in out.stdout,
          "rouse timers lists the schedules: %r" % out.stdout)
    out = subprocess.run([srv.rouse, "timers", "fast", "--server", srv.url],
                         capture_output=True, text=True, timeout=30)
    check_eq(out.returncode, 0, "rouse timers fast exit code\n" + out.stderr)
    check("missed_catchup" in out.stdout, "rouse timers fast shows outcomes: %r"
          % out.stdout)
    r = srv.request("GET", "/api/schedules/nope")
    check_eq(r.status, 404, "unknown schedule")
    srv.stop()

    # --- a bad cron source is a config error with its line ---
    bad = os.path.join(srv.dir, "bad.yaml")
    with open(bad, "w") as f:
        f.write("node: { data_dir: ./d }\nsources:\n"
                "  nightly:\n    kind: cron\n    schedule: \"0 25 * * *\"\n"
                "    overlap: sometimes\ntriggers: {}\n")
    out = subprocess.run([srv.rouse, "check", "-c", bad], capture_output=True,
                         text=True, timeout=30)
    check_eq(out.returncode, 2, "rouse check exit code for a bad cron source")
    check("bad.yaml:6:1: sources.nightly.overlap: unknown policy" in out.stderr,
          "overlap error with its line: %r" % out.stderr)
    with open(bad, "w") as f:
        f.write("node: { data_dir: ./d }\nsources:\n"
                "  nightly:\n    kind: cron\n    schedule: \"0 25 * * *\"\n"
                "triggers: {}\n")
    out = subprocess.run([srv.rouse, "check", "-c", bad], capture_output=True,
                         text=True, timeout=30)
    check_eq(out.returncode, 2, "rouse check exit code for a bad expression")
    check("bad.yaml:5:1: sources.nightly.schedule: invalid cron expression"
          in out.stderr, "schedule error with its line: %r" % out.stderr)
    return "%d fast ticks, overlap skips and catch-up after kill -9" % len(ids)


if __name__ == "__main__":
    run_test("cron_source", main)
