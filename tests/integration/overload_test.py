#!/usr/bin/env python3
"""Overload: events arrive much faster than handlers finish.

A trigger runs one handler at a time (`concurrency: 1`) and the node holds at most
`max_queued: 40` runs admitted but not started. Four threads post batches of 5 events
as fast as they can (bounded: 1,200 accepted events or 20 s). Checked:

- the server answers 503 while too many runs are queued, and every 503 carries
  `Retry-After` and says why (runs queued behind flow control);
- memory stays bounded: the `rouse_runs_queued` gauge (events not yet routed plus
  runs not started), sampled throughout, never exceeds the high-water mark by more
  than the events that can pass the check at once (one batch per posting thread),
  doubled for the moment a routed event's run is not yet counted at its governor;
  RSS is logged, not asserted;
- no accepted event is lost: every event answered 2xx ends with a succeeded run,
  exactly one per event, after the load stops;
- once the queue drains, the server accepts again."""

import os
import re
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_test, wait_until)

MAX_QUEUED = 40
THREADS = 4
BATCH = 5
MAX_ACCEPTED = 1200
LOAD_SECONDS = 20.0

TRIGGERS = """\
  slow:
    on: { type: [load.tick] }
    run: { exec: ["{dir}/work.sh"], timeout: 60s }
    concurrency: 1
"""

WORK = """#!/bin/sh
cat >/dev/null
sleep 0.01
"""


def queued_gauge(server):
    r = server.get("/metrics")
    m = re.search(r"^rouse_runs_queued (\S+)$", r.text, re.M)
    return float(m.group(1)) if m else None


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def body(args):
    server = RouseServer(args.rouse, TRIGGERS, node_extra={"max_queued": MAX_QUEUED},
                         name="overload", keep=args.keep)
    server.write_script("work.sh", WORK)
    server.start()

    lock = threading.Lock()
    accepted = []  # event ids answered 2xx
    rejected = []  # (status, retry_after, body) of the 503s
    others = []
    stop = threading.Event()
    deadline = time.monotonic() + LOAD_SECONDS

    def poster(t):
        n = 0
        while not stop.is_set() and time.monotonic() < deadline:
            ids = ["t%d-%d" % (t, n + i) for i in range(BATCH)]
            n += BATCH
            r = server.post_events([cloudevent("load.tick", id_=i) for i in ids])
            with lock:
                if r.status in (200, 202):
                    accepted.extend(ids)
                    if len(accepted) >= MAX_ACCEPTED:
                        stop.set()
                elif r.status == 503:
                    rejected.append((r.status, r.headers.get("Retry-After"), r.text))
                else:
                    others.append(r)
            if r.status == 503:
                time.sleep(0.02)  # a polite client would wait Retry-After

    peak_queued = 0.0
    peak_rss = 0.0
    threads = [threading.Thread(target=poster, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads):
        q = queued_gauge(server)
        if q is not None:
            peak_queued = max(peak_queued, q)
        rss = rss_mib(server.proc.pid)
        if rss is not None:
            peak_rss = max(peak_rss, rss)
        time.sleep(0.02)
    for th in threads:
        th.join()

    summary = ("accepted %d events, %d answers 503, peak rouse_runs_queued %.0f, "
               "peak RSS %.0f MiB" % (len(accepted), len(rejected), peak_queued,
                                      peak_rss))
    check(not others, "only 2xx and 503 expected, got %r" % others[:3])
    check(rejected, "expected 503s while runs were queued over %d" % MAX_QUEUED)
    for status, retry_after, text in rejected:
        check(retry_after is not None and retry_after.isdigit(),
              "a 503 without a numeric Retry-After: %r" % retry_after)
        check("queued behind flow control" in text,
              "a 503 that does not say why: %s" % text)
    bound = MAX_QUEUED + 2 * THREADS * BATCH
    check(peak_queued <= bound,
          "rouse_runs_queued peaked at %.0f, over the bound %d" % (peak_queued, bound))
    check(len(set(accepted)) == len(accepted), "an event id was accepted twice")

    # Every accepted event runs to success, once.
    def all_done():
        runs = server.runs(trigger="slow", limit=100000)
        done = [r for r in runs if r["state"] == "succeeded"]
        return runs if len(done) >= len(accepted) else None
    runs = wait_until(all_done, 240, "%d succeeded runs" % len(accepted), interval=0.5)
    check_eq(len(runs), len(accepted), "runs of the trigger")
    ran = sorted(r["event_id"] for r in runs)
    check_eq(ran, sorted(accepted), "the events that ran")

    # Drained: accepted again.
    wait_until(lambda: queued_gauge(server) == 0, 30, "the queue to drain")
    r = server.post_events(cloudevent("load.tick", id_="after"))
    check(r.status == 202, "after the drain, an event is accepted: %r" % r)
    return summary


if __name__ == "__main__":
    ARGS = parse_args(__doc__)
    run_test("overload", lambda: body(ARGS))
