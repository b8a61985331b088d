#!/usr/bin/env python3
"""Per-key order across a crash (acceptance test): SIGKILL during a backlog of 1,000
queued runs with per-key concurrency 1, then a restart on the same data dir: every
run executes to success exactly once, and per key in journal order.

A trigger with `concurrency: {limit: 1, key: "{{data.key}}"}` gets 10 keys x 100
events (subject = key, so each key's events are decided by one router shard), posted
as 4 arrays of 250 with the keys interleaved. The handler appends
`<key> <index> <ROUSE_ATTEMPT> <run id>` to a log and sleeps 20 ms, so with at most
one run per key at a time a backlog builds up. Once a few dozen runs have executed,
the server gets SIGKILL and is started again; then (bounded) every run must end
`succeeded`.

Checks, from the run records (GET /api/runs) and the handler's log:
- exactly one run per event, every one `succeeded`;
- every event's handler executed to success exactly once, except that a run executing
  at the moment of the kill may execute again (at-least-once): the restart starts it
  in attempt 2. That is allowed only as executions with attempts [1, 2] (or [2] if
  the kill came between storing `running` and the handler's first line), only for
  runs whose record shows attempt 2 and that the server logged as interrupted, for
  at most one run per key (so at most 10);
- per key, the handler's executions follow journal order: the first starts are in
  index (= seq) order, and the whole per-key sequence of executions never goes back
  (an interrupted run's second attempt comes right after its first);
- the restart really had a backlog: the server recovered or replayed >= 500 runs.

Prints the runtime split (until the kill, after the restart) and the counts."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, log_rows,  # noqa: E402
                     parse_args, run_test, wait_until)

KEYS = 10
PER_KEY = 100
N = KEYS * PER_KEY
BATCHES = 4           # POSTs of N / BATCHES events each (the API takes up to 1,000)
KILL_AFTER = 40       # handler executions logged before the SIGKILL
MIN_BACKLOG = 500     # runs the restart must recover or replay

TRIGGERS = """\
  ordered:
    on: { type: [demo.ordered] }
    run: { exec: ["{dir}/rec.sh", "{{data.key}}", "{{data.i}}"], timeout: 60s }
    concurrency: { limit: 1, key: "{{data.key}}" }
"""

REC = """#!/bin/sh
cat >/dev/null
echo "$1 $2 $ROUSE_ATTEMPT $ROUSE_RUN_ID" >> "{dir}/exec.log"
sleep 0.02
"""

RECOVERED_RE = re.compile(r"recovered (\d+) unfinished run\(s\), replayed (\d+) "
                          r"undecided event\(s\)")
INTERRUPTED_RE = re.compile(r"run (\S+) was interrupted in attempt (\d+)")


def key_name(k):
    return "k%d" % k


def event_id(k, i):
    return "%s-%03d" % (key_name(k), i)


def read_log(srv):
    """Handler executions in log order: (key, index, attempt, run id)."""
    return [(key, int(i), int(attempt), run)
            for key, i, attempt, run in log_rows(srv.path("exec.log"), 4)]


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="perkey", keep=args.keep)
    srv.write_script("rec.sh", REC.replace("{dir}", srv.dir))
    srv.start()
    t0 = time.monotonic()

    # --- the backlog: 4 arrays of 250 events, keys interleaved ---
    seq_of = {}
    per_batch = PER_KEY // BATCHES
    for b in range(BATCHES):
        events = [cloudevent("demo.ordered", "perkey", event_id(k, i),
                             subject=key_name(k), data={"key": key_name(k), "i": i})
                  for i in range(b * per_batch, (b + 1) * per_batch)
                  for k in range(KEYS)]
        r = srv.post_events(events, timeout=30)
        check_eq(r.status, 202, "POST of batch %d (%r)" % (b, r))
        check_eq([e["id"] for e in r.json["events"]], [e["id"] for e in events],
                 "ids acked for batch %d" % b)
        for e in r.json["events"]:
            check(not e["duplicate"], "event %s acked as a duplicate" % e["id"])
            seq_of[e["id"]] = e["seq"]
    check_eq(len(seq_of), N, "distinct events posted")
    for k in range(KEYS):
        seqs = [seq_of[event_id(k, i)] for i in range(PER_KEY)]
        check_eq(seqs, sorted(seqs), "journal order of key %s's events" % key_name(k))

    # --- SIGKILL once a few dozen runs executed ---
    wait_until(lambda: len(read_log(srv)) >= KILL_AFTER, 60,
               "%d handler executions before the kill" % KILL_AFTER, 0.005)
    srv.kill9()
    t_kill = time.monotonic()
    at_kill = len(read_log(srv))
    check(at_kill < N // 2, "%d of %d runs had executed at the kill: no backlog left "
          "to test (the handler is too fast?)" % (at_kill, N))

    # --- restart on the same data dir; every run must succeed ---
    srv.start()
    t_restart = time.monotonic()

    def all_succeeded():
        return len(srv.runs(trigger="ordered", state="succeeded")) >= N
    wait_until(all_succeeded, 120, "all %d runs to succeed after the restart" % N, 0.25)
    t_done = time.monotonic()
    time.sleep(0.3)  # a stray extra execution would be logged by now

    stderr = srv.stderr_text()
    m = RECOVERED_RE.search(stderr)
    check(m is not None, "the restart logged no 'recovered ... unfinished run(s)' line")
    recovered, replayed = int(m.group(1)), int(m.group(2))
    check(recovered + replayed >= MIN_BACKLOG, "the restart recovered %d run(s) and "
          "replayed %d event(s); a backlog of >= %d was expected"
          % (recovered, replayed, MIN_BACKLOG))
    interrupted = {}
    for run_id, attempt in INTERRUPTED_RE.findall(stderr):
        check(run_id not in interrupted, "run %s logged as interrupted twice" % run_id)
        interrupted[run_id] = int(attempt)
    check(all(a == 1 for a in interrupted.values()),
          "runs interrupted in an attempt other than 1: %r" % interrupted)

    # --- run records: one per event, all succeeded ---
    runs = srv.runs(trigger="ordered")
    check_eq(len(runs), N, "runs of the trigger")
    by_event = {}
    for r in runs:
        check(r["event_id"] not in by_event, "two runs for event %s: %s and %s"
              % (r["event_id"], by_event.get(r["event_id"], {}).get("id"), r["id"]))
        by_event[r["event_id"]] = r
        check_eq(seq_of.get(r["event_id"]), r["event_seq"],
                 "seq of the event of run %s" % r["id"])
    check_eq(sorted(by_event), sorted(seq_of), "events with a run")
    bad = [(r["id"], r["state"]) for r in runs if r["state"] != "succeeded"]
    check(not bad, "runs not succeeded: %r" % bad[:20])
    run_ids = {r["id"] for r in runs}
    check_eq(len(run_ids), N, "distinct run ids")
    odd = [(r["id"], r["attempt"]) for r in runs if r["attempt"] not in (1, 2)]
    check(not odd, "runs that ended in an attempt other than 1 or 2: %r" % odd[:20])
    second = {r["id"] for r in runs if r["attempt"] == 2}
    check_eq(sorted(second), sorted(interrupted),
             "runs in attempt 2 vs. runs the server logged as interrupted")
    check(len(second) <= KEYS, "%d runs needed attempt 2; at most one per key (%d) "
          "can have been executing at the kill" % (len(second), KEYS))

    # --- the handler's log: executions per event and per-key order ---
    execs = read_log(srv)
    attempts = {}   # event id -> [attempt, ...] in log order
    per_key = {}    # key -> [index, ...] in log order (every execution)
    for key, i, attempt, run_id in execs:
        eid = "%s-%03d" % (key, i)
        check(eid in by_event, "exec.log: execution for an unknown event %s" % eid)
        check_eq(run_id, by_event[eid]["id"], "exec.log: run id logged for %s" % eid)
        attempts.setdefault(eid, []).append(attempt)
        per_key.setdefault(key, []).append(i)
    never = sorted(set(by_event) - set(attempts))
    check(not never, "events whose handler never executed: %s" % never[:20])
    twice = {}
    for eid, a in attempts.items():
        run = by_event[eid]
        if a == [1]:
            check_eq(run["attempt"], 1, "attempt of run %s (executed once, attempt 1)"
                     % run["id"])
            continue
        check(a in ([1, 2], [2]), "event %s executed with attempts %r; only [1] or, "
              "for a run interrupted by the kill, [1, 2] / [2] are allowed" % (eid, a))
        check(run["id"] in interrupted, "event %s executed with attempts %r but its "
              "run %s was not interrupted by the kill" % (eid, a, run["id"]))
        check_eq(run["attempt"], 2, "attempt of the interrupted run %s" % run["id"])
        if a == [1, 2]:
            twice[eid] = run["id"]
    keys_again = sorted(r["event_id"].split("-")[0] for r in runs if r["id"] in second)
    check(len(keys_again) == len(set(keys_again)), "more than one run of a key needed "
          "attempt 2 (only the one executing at the kill may): keys %s" % keys_again)

    order_errors = []
    for k in range(KEYS):
        name = key_name(k)
        seen = per_key.get(name, [])
        firsts = list(dict.fromkeys(seen))
        if firsts != list(range(PER_KEY)):
            order_errors.append("%s: first starts out of journal order: %s"
                                % (name, _first_disorder(firsts)))
        elif seen != sorted(seen):
            order_errors.append("%s: an execution went back in journal order: %s"
                                % (name, _first_disorder(seen)))
    check(not order_errors, "per-key order broken:\n  " + "\n  ".join(order_errors))

    check_eq(srv.stop(), 0, "exit code after SIGTERM")
    return ("%d runs, %d keys: killed after %d executions (%.1fs), restart recovered "
            "%d run(s) + replayed %d event(s), all succeeded %.1fs later; %d "
            "interrupted run(s) restarted in attempt 2 (%d executed twice); order per "
            "key kept"
            % (N, KEYS, at_kill, t_kill - t0, recovered, replayed, t_done - t_restart,
               len(second), len(twice)))


def _first_disorder(seq):
    for j in range(1, len(seq)):
        if seq[j] < seq[j - 1]:
            return "... %s ... (at position %d)" % (seq[max(0, j - 3):j + 3], j)
    return "%d entries, expected 0..%d: %s" % (len(seq), PER_KEY - 1, seq[:10])


if __name__ == "__main__":
    run_test("per_key_order", main)
