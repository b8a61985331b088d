#!/usr/bin/env python3
"""Concurrency limits: a trigger with `concurrency: 2` never has more than 2 handlers
running at once (and does reach 2), one with `concurrency: 1` never overlaps, and an
unlimited trigger does overlap more (so the limit is what holds the others back).

Each handler appends `start <ns> <run>` / `end <ns> <run>` to its trigger's log and
sleeps 0.3 s in between; the measured interval lies inside the process's lifetime, so
the overlap computed from the logs never overstates the real one."""

import os
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_test, wait_until)

TRIGGERS = """\
  par2:
    on: { type: [demo.c2] }
    run: { exec: ["{dir}/work.sh", "{dir}/par2.log"], timeout: 60s }
    concurrency: 2
  serial:
    on: { type: [demo.c1] }
    run: { exec: ["{dir}/work.sh", "{dir}/serial.log"], timeout: 60s }
    concurrency: 1
  free:
    on: { type: [demo.free] }
    run: { exec: ["{dir}/work.sh", "{dir}/free.log"], timeout: 60s }
"""

WORK = """#!/bin/sh
cat >/dev/null
echo "start $(date +%s%N) $ROUSE_RUN_ID" >> "$1"
sleep 0.3
echo "end $(date +%s%N) $ROUSE_RUN_ID" >> "$1"
"""

N_PAR2 = 12
N_SERIAL = 6
N_FREE = 6


def intervals(path):
    starts, ends = {}, {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            kind, ns, run = parts[0], int(parts[1]), parts[2]
            target = starts if kind == "start" else ends
            check(run not in target, "%s: run %s logged '%s' twice" % (path, run, kind))
            target[run] = ns
    check_eq(sorted(starts), sorted(ends), "%s: runs with start vs. end lines" % path)
    return [(starts[r], ends[r]) for r in starts]


def max_overlap(ivs):
    points = []
    for s, e in ivs:
        points.append((s, 1))
        points.append((e, -1))
    points.sort(key=lambda p: (p[0], p[1]))  # at equal times, ends (-1) first
    cur = best = 0
    for _, d in points:
        cur += d
        best = max(best, cur)
    return best


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="concurrency", keep=args.keep)
    srv.write_script("work.sh", WORK)
    srv.start()

    # Sample the API while the runs progress: `running` never exceeds the limit.
    max_running = {"par2": 0, "serial": 0}
    stop_sampling = threading.Event()
    sample_errors = []

    def sampler():
        while not stop_sampling.is_set():
            try:
                for t in max_running:
                    n = len(srv.runs(trigger=t, state="running"))
                    max_running[t] = max(max_running[t], n)
            except Exception as e:  # reported below
                sample_errors.append(repr(e))
                return
            stop_sampling.wait(0.02)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()

    # 12 single posts for par2; serial and free get one batch each.
    r = srv.post_events([cloudevent("demo.c1", "conc", "c1-%d" % i)
                         for i in range(N_SERIAL)])
    check_eq(r.status, 202, "batch POST for serial (%r)" % r)
    r = srv.post_events([cloudevent("demo.free", "conc", "free-%d" % i)
                         for i in range(N_FREE)])
    check_eq(r.status, 202, "batch POST for free (%r)" % r)
    for i in range(N_PAR2):
        r = srv.post_events(cloudevent("demo.c2", "conc", "c2-%d" % i))
        check_eq(r.status, 202, "POST %d for par2 (%r)" % (i, r))

    want = {"par2": N_PAR2, "serial": N_SERIAL, "free": N_FREE}

    def all_done():
        for t, n in want.items():
            if len(srv.runs(trigger=t, state="succeeded")) < n:
                return False
        return True
    wait_until(all_done, 60, "all %d runs to succeed" % sum(want.values()), 0.1)
    stop_sampling.set()
    th.join(timeout=10)
    check(not sample_errors, "sampling /api/runs failed: %s" % sample_errors)

    for t, n in want.items():
        runs = srv.runs(trigger=t)
        check_eq(len(runs), n, "number of runs of %s" % t)
        check(all(r["state"] == "succeeded" and r["attempt"] == 1 for r in runs),
              "runs of %s not all succeeded in attempt 1: %r" % (t, runs))

    ov = {}
    for t, n in want.items():
        ivs = intervals(srv.path("%s.log" % t))
        check_eq(len(ivs), n, "handler executions logged for %s" % t)
        ov[t] = max_overlap(ivs)

    check(ov["par2"] <= 2, "concurrency: 2 exceeded: %d handlers of par2 overlapped"
          % ov["par2"])
    check(ov["par2"] >= 2, "par2 never ran 2 handlers at once (max overlap %d): the "
          "limit was not reached" % ov["par2"])
    check_eq(ov["serial"], 1, "max overlap of the concurrency: 1 trigger")
    check(ov["free"] >= 3, "the unlimited trigger overlapped only %d handlers (>= 3 "
          "expected with %d events of 0.3 s)" % (ov["free"], N_FREE))
    check(max_running["par2"] <= 2, "GET /api/runs showed %d par2 runs running at once"
          % max_running["par2"])
    check(max_running["serial"] <= 1, "GET /api/runs showed %d serial runs running at "
          "once" % max_running["serial"])
    check_eq(srv.stop(), 0, "exit code after SIGTERM")
    return ("max overlap par2=%d (limit 2) serial=%d (limit 1) free=%d (unlimited); "
            "max running seen via API par2=%d serial=%d"
            % (ov["par2"], ov["serial"], ov["free"], max_running["par2"],
               max_running["serial"]))


if __name__ == "__main__":
    run_test("concurrency", main)
