#!/usr/bin/env python3
"""Crash recovery: a poster thread sends events with unique ids (single objects and
batches of 1-5) while the main loop kills the server with SIGKILL at random moments
(at least 20 times) and restarts it on the same data dir. Afterwards, on a final clean
start: every event that got a 2xx is stored with the seq it was acked with and has a
succeeded run, every stored event has exactly one run, no run id exists twice, no run
is left pending/running, and acked ids posted again are duplicates (200).

Handler executions beyond one per run are allowed (at-least-once) and reported.
Prints `acked=N ran=M duplicates=D kills=K`."""

import json
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, TestFailure, check, check_eq,  # noqa: E402
                     cloudevent, fail, http_request, log_rows, parse_args,
                     run_id_for, run_test, wait_until)

TRIGGER = "rec"
SOURCE = "crash"
TRIGGERS = """\
  rec:
    on: { source: [crash], type: [demo.crash] }
    run: { exec: ["{dir}/rec.sh"], timeout: 60s }
"""

REC = """#!/bin/sh
echo "$ROUSE_RUN_ID $ROUSE_ATTEMPT" >> "{dir}/executions.log"
exit 0
"""

LIST_CAP = 10000      # GET /api/runs answers at most this many runs
MAX_EVENTS = 7000     # the poster stops creating new ids here (stays under LIST_CAP)
POST_PACING = 0.002   # seconds between requests, keeps the totals under MAX_EVENTS


class Poster(threading.Thread):
    """Posts events to whatever port the server currently listens on. An id counts
    as acked once any POST carrying it got a 2xx; after a connection error the same
    batch is sometimes retried (a client retrying an unknown outcome)."""

    def __init__(self, rnd, pacing):
        super().__init__(daemon=True)
        self.pacing = pacing
        self.rnd = rnd
        self.lock = threading.Lock()
        self.port = None
        self.stop_flag = threading.Event()
        self.acked = {}           # id -> seq
        self.sent_ids = set()     # every id ever sent
        self.counter = 0
        self.requests = 0
        self.status_counts = {}   # status or "conn-error" -> count
        self.problems = []        # unexpected answers (reported as failures)
        self.retries = 0

    def set_port(self, port):
        with self.lock:
            self.port = port

    def new_batch(self):
        if self.counter >= MAX_EVENTS:
            return None
        n = 1 if self.rnd.random() < 0.5 else self.rnd.randint(1, 5)
        ids = []
        for _ in range(n):
            self.counter += 1
            ids.append("ev-%06d" % self.counter)
        events = [cloudevent("demo.crash", SOURCE, i, data={"n": i}) for i in ids]
        as_array = n > 1 or self.rnd.random() < 0.3
        return ids, json.dumps(events if as_array else events[0])

    def count(self, key):
        self.status_counts[key] = self.status_counts.get(key, 0) + 1

    def run(self):
        batch = None
        while not self.stop_flag.is_set():
            with self.lock:
                port = self.port
            if port is None:
                self.stop_flag.wait(0.005)
                continue
            if batch is None:
                batch = self.new_batch()
                if batch is None:
                    self.stop_flag.wait(0.01)
                    continue
            ids, body = batch
            self.sent_ids.update(ids)
            self.requests += 1
            try:
                r = http_request(port, "POST", "/api/events", body, timeout=10)
            except (OSError, ValueError) as e:  # refused/reset by the kill
                self.count("conn-error")
                if self.rnd.random() < 0.5:
                    self.retries += 1      # keep `batch`: send it again
                else:
                    batch = None           # give up: outcome unknown
                continue
            self.count(r.status)
            if r.status in (200, 202):
                self.record_ack(ids, r)
                batch = None
            elif r.status == 503:
                pass                       # starting or overloaded: retry
            else:
                self.problems.append("POST %s -> %r" % (ids, r))
                batch = None
            self.stop_flag.wait(self.pacing)

    def record_ack(self, ids, r):
        items = (r.json or {}).get("events")
        if not isinstance(items, list) or [i.get("id") for i in items] != ids:
            self.problems.append("2xx answer does not list the posted ids %s: %r"
                                 % (ids, r))
            return
        fresh = [i for i in items if not i.get("duplicate")]
        if r.status == 202 and not fresh:
            self.problems.append("202 but every event is a duplicate: %r" % r)
        if r.status == 200 and fresh:
            self.problems.append("200 but not every event is a duplicate: %r" % r)
        for i in items:
            prev = self.acked.get(i["id"])
            if prev is not None and prev != i["seq"]:
                self.problems.append("id %s acked with seq %d and later with seq %d"
                                     % (i["id"], prev, i["seq"]))
            self.acked.setdefault(i["id"], i["seq"])


def read_executions(path):
    return [(key, int(n)) for key, n in log_rows(path, 2)]


def all_stored_events(srv):
    """Every stored event, paging GET /api/events (at most 1000 per page)."""
    events, after = [], 0
    while True:
        page = srv.get_json("/api/events?after=%d&limit=1000" % after)["events"]
        if not page:
            return events
        events.extend(page)
        after = page[-1]["rouse"]["seq"]


def main():
    def extra(p):
        p.add_argument("--kills", type=int, default=24,
                       help="number of SIGKILLs (at least 20)")
        p.add_argument("--pacing", type=float, default=POST_PACING,
                       help="seconds the poster waits between requests")
    args = parse_args(__doc__, extra)
    check(args.kills >= 20, "--kills must be at least 20")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(
        1, 2**31)
    print("crash_recovery: seed=%d kills=%d (rerun with --seed %d)"
          % (seed, args.kills, seed))
    sys.stdout.flush()
    rnd = random.Random(seed)

    srv = RouseServer(args.rouse, TRIGGERS, name="crash", keep=args.keep)
    srv.write_script("rec.sh", REC.replace("{dir}", srv.dir))
    exec_log = srv.path("executions.log")
    srv.start()

    poster = Poster(random.Random(rnd.randrange(2**31)), args.pacing)
    poster.set_port(srv.port)
    poster.start()

    kills = 0
    recovered_lines = 0
    try:
        for k in range(args.kills):
            time.sleep(rnd.uniform(0.1, 0.6))   # the random moment of the kill
            poster.set_port(None)  # nothing listens until the next serving line
            srv.kill9()
            kills += 1
            if k + 1 < args.kills:
                srv.start()
                poster.set_port(srv.port)
            if not poster.is_alive():
                fail("the poster thread died")
    finally:
        poster.stop_flag.set()
        poster.join(timeout=30)
    check(not poster.is_alive(), "the poster thread did not stop within 30s")

    # Final clean start on the same data dir.
    srv.start()
    acked = dict(poster.acked)
    check(poster.problems == [], "unexpected answers while posting:\n  "
          + "\n  ".join(poster.problems[:20]))
    check(len(acked) >= 50, "only %d events were acked: the test did not exercise "
          "much (status counts %r)" % (len(acked), poster.status_counts))
    last_seq = srv.healthz()["last_seq"]
    check(last_seq < LIST_CAP, "%d events stored: more than the runs listing can show "
          "(%d); lower MAX_EVENTS" % (last_seq, LIST_CAP))

    # Every acked id is stored, with the seq it was acked with; no id is stored twice.
    stored = all_stored_events(srv)
    check_eq(len(stored), last_seq, "number of stored events vs. last_seq")
    check_eq([e["rouse"]["seq"] for e in stored], list(range(1, last_seq + 1)),
             "seqs of the stored events (gap-free 1..last_seq)")
    seq_of = {}
    for e in stored:
        check(e["id"] not in seq_of, "event id %s stored twice (seq %d and %d)"
              % (e["id"], seq_of.get(e["id"], 0), e["rouse"]["seq"]))
        seq_of[e["id"]] = e["rouse"]["seq"]
        check(e["id"] in poster.sent_ids, "stored event id %s was never sent" % e["id"])
    lost = sorted(i for i in acked if i not in seq_of)
    check(not lost, "%d acked events are not stored (lost after a kill): %s"
          % (len(lost), lost[:20]))
    moved = sorted(i for i in acked if seq_of[i] != acked[i])
    check(not moved, "%d acked events are stored under another seq than acked: %s"
          % (len(moved), ["%s acked %d stored %d" % (i, acked[i], seq_of[i])
                          for i in moved[:10]]))

    # Re-post some acked ids: duplicates with the acked seq.
    for i in rnd.sample(sorted(acked), min(8, len(acked))):
        r = srv.post_events(cloudevent("demo.crash", SOURCE, i, data={"n": i}))
        check_eq(r.status, 200, "re-POST of acked id %s after the kills (%r)" % (i, r))
        item = r.json["events"][0]
        check_eq((item["duplicate"], item["seq"]), (True, acked[i]),
                 "duplicate flag and seq of the re-posted acked id %s" % i)
    sample = rnd.sample(sorted(acked), min(5, len(acked)))
    r = srv.post_events([cloudevent("demo.crash", SOURCE, i) for i in sample])
    check_eq(r.status, 200, "re-POST of a batch of acked ids (%r)" % r)
    check_eq([x["seq"] for x in r.json["events"]], [acked[i] for i in sample],
             "seqs of the re-posted batch")
    check_eq(srv.healthz()["last_seq"], last_seq, "last_seq after the re-posts")

    # Wait until every stored event (so every acked one) has a run that finished.
    def settled():
        runs = srv.runs(limit=LIST_CAP)
        if len(runs) >= last_seq and all(r["state"] in ("succeeded", "failed")
                                         for r in runs):
            return runs
        return None
    timed_out = False
    try:
        wait_until(settled, 60, "a finished run for each of the %d stored events"
                   % last_seq, 0.2)
    except TestFailure:
        timed_out = True
    runs = srv.runs(limit=LIST_CAP)
    ok = {r["event_id"] for r in runs if r["state"] == "succeeded"}
    missing = sorted(i for i in acked if i not in ok)
    if timed_out or missing:
        states, errors = {}, {}
        for r in runs:
            states[r["state"]] = states.get(r["state"], 0) + 1
            if r["state"] == "failed":
                e = r.get("error", "exit %s" % r.get("exit_code"))
                errors[e] = errors.get(e, 0) + 1
        example = ""
        failed = [r for r in runs if r["state"] == "failed"]
        if failed:
            example = "\nexample failed run: %s" % json.dumps(srv.run(failed[0]["id"]))
        fail("%s%d runs %r for %d stored events; acked ids without a succeeded run: "
             "%d %s; errors of failed runs: %r%s"
             % ("after 60s: " if timed_out else "", len(runs), states, last_seq,
                len(missing), missing[:20], errors, example))

    runs = srv.runs(limit=LIST_CAP)
    ids = [r["id"] for r in runs]
    check_eq(len(ids), len(set(ids)), "run ids in the listing are unique "
             "(%d runs, %d distinct)" % (len(ids), len(set(ids))))
    check_eq(len(runs), last_seq, "number of runs (one per stored event)")
    for state in ("pending", "running", "failed"):
        left = srv.runs(state=state, limit=LIST_CAP)
        check(not left, "%d runs are %s at the end: %s"
              % (len(left), state, [r["id"] for r in left[:10]]))
    by_event = {}
    for r in runs:
        check_eq(r["trigger"], TRIGGER, "trigger of run %s" % r["id"])
        check_eq(r["id"], run_id_for(r["event_seq"], TRIGGER), "id of the run of seq %d"
                 % r["event_seq"])
        check(r["event_id"] not in by_event, "event id %s has two runs: %s and %s"
              % (r["event_id"], by_event.get(r["event_id"]), r["id"]))
        by_event[r["event_id"]] = r["id"]
        check_eq(seq_of.get(r["event_id"]), r["event_seq"],
                 "event_seq of run %s vs. the stored event" % r["id"])
    no_run = sorted(i for i in acked if i not in by_event)
    check(not no_run, "acked ids without a run: %s" % no_run[:20])

    # Handler executions: each succeeded run's final attempt did run the handler.
    execs = read_executions(exec_log)
    executed = set(execs)
    for r in runs:
        check((r["id"], r["attempt"]) in executed,
              "run %s succeeded in attempt %d but the handler never logged that "
              "attempt" % (r["id"], r["attempt"]))
    run_ids = {r["id"] for r in runs}
    strays = sorted({rid for rid, _ in execs if rid not in run_ids})
    check(not strays, "the handler ran for run ids that do not exist: %s" % strays[:10])
    ran = len(execs)
    duplicates = ran - len({rid for rid, _ in execs})
    multi_attempt = sum(1 for r in runs if r["attempt"] > 1)
    recovered_lines = srv.stderr_text().count("was interrupted in attempt")

    check_eq(srv.stop(), 0, "exit code of the final SIGTERM")
    summary = ("acked=%d ran=%d duplicates=%d kills=%d" % (len(acked), ran, duplicates,
                                                          kills))
    print(summary)
    print("crash_recovery: seed=%d stored=%d runs=%d requests=%d retries=%d "
          "statuses=%r runs_with_attempt>1=%d interrupted_runs_restarted=%d"
          % (seed, last_seq, len(runs), poster.requests, poster.retries,
             poster.status_counts, multi_attempt, recovered_lines))
    return summary + " seed=%d" % seed


if __name__ == "__main__":
    run_test("crash_recovery", main)
