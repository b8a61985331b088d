#!/usr/bin/env python3
"""Flow control with the real binary: one server, one trigger per policy, checked one
after the other from the handlers' own logs and the run records (GET /api/runs).

- concurrency {limit: 1, key}: 2 keys x 4 events of a 0.3 s handler: no two runs of
  one key overlap, runs of the two keys do overlap (the limit is per key, not for the
  trigger), each key's runs start in journal order, all succeed;
- rate {limit: 2, per: 1s} (delay): 6 events at once all succeed, their starts are
  spaced as the token bucket (GCRA) allows and no closer (reasoning at check_rate);
  rate ... mode: drop: of 5 events at once the first 2 run and 3 end `skipped` with
  "rate limit: over 2 per 1s"; once the bucket refilled, one more runs;
- debounce {period: 500ms, max_wait: 2s, key}: 5 events 100 ms apart give one run,
  started >= 500 ms after the last event and fed that last event; the 4 others end
  `skipped`, each "debounced: superseded by run <the next one>"; a later burst of 3
  gives a second run with its own last event; a 3 s stream of events 200 ms apart
  on another key gets its first run 2 s (max_wait) after its first event;
- batch {max_size: 3, max_wait: 1s}: 7 events at once give runs with batches of 3, 3
  (at once) and 1 (after max_wait): stdin is a JSON array of the events in journal
  order, ROUSE_BATCH_SIZE matches, the union is the 7 events each exactly once, and
  the 4 other runs end `skipped` "batched into run <the run that got them>";
- priority (concurrency 1): a blocker runs first, then the waiting runs by priority;
- singleton (skip): while one run is active, the others end `skipped`;
- queue {max: 2, on_full: reject} with concurrency 1: beyond 2 waiting runs, the
  run is `dead` with "queue full (max 2)";
- rate {limit: 2, per: 1h, mode: drop} across kill -9: 2 runs spend the bucket, and
  after the restart a third event is still `skipped` (the bucket is stored).

The handler logs `start|end <ns> <run> <tag> <event id> <batch size>` around a sleep
(times from `date +%s%N`, inside the process's lifetime, so measured overlaps never
overstate the real ones) and keeps its stdin in a file per run."""

import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, log_rows,  # noqa: E402
                     parse_args, run_test, wait_until)

# Every trigger logs to its own file.
TRIGGERS = """\
  perkey:
    on: { type: [demo.perkey] }
    run:
      exec: ["{dir}/work.sh", "{dir}/perkey.log", "0.3", "{{data.k}}", "{{id}}"]
      timeout: 60s
    concurrency: { limit: 1, key: "{{data.k}}" }
  ratedelay:
    on: { type: [demo.ratedelay] }
    run:
      exec: ["{dir}/work.sh", "{dir}/ratedelay.log", "0", "-", "{{id}}"]
      timeout: 60s
    rate: { limit: 2, per: 1s, mode: delay }
  ratehour:
    on: { type: [demo.ratehour] }
    run:
      exec: ["{dir}/work.sh", "{dir}/ratehour.log", "0", "-", "{{id}}"]
      timeout: 60s
    rate: { limit: 2, per: 1h, mode: drop }
  ratedrop:
    on: { type: [demo.ratedrop] }
    run:
      exec: ["{dir}/work.sh", "{dir}/ratedrop.log", "0", "-", "{{id}}"]
      timeout: 60s
    rate: { limit: 2, per: 1s, mode: drop }
  debounce:
    on: { type: [demo.debounce] }
    run:
      exec: ["{dir}/work.sh", "{dir}/debounce.log", "0", "{{data.k}}", "{{id}}"]
      timeout: 60s
    debounce: { period: 500ms, max_wait: 2s, key: "{{data.k}}" }
  batch:
    on: { type: [demo.batch] }
    run:
      exec: ["{dir}/work.sh", "{dir}/batch.log", "0", "-", "{{id}}"]
      timeout: 60s
    batch: { max_size: 3, max_wait: 1s }
  prio:
    on: { type: [demo.prio] }
    run:
      exec: ["{dir}/work.sh", "{dir}/prio.log", "0.3", "-", "{{id}}"]
      timeout: 60s
    concurrency: 1
    priority: "{{data.p}}"
  single:
    on: { type: [demo.single] }
    run:
      exec: ["{dir}/work.sh", "{dir}/single.log", "0.5", "-", "{{id}}"]
      timeout: 60s
    singleton: true
  queued:
    on: { type: [demo.queued] }
    run:
      exec: ["{dir}/work.sh", "{dir}/queued.log", "0.5", "-", "{{id}}"]
      timeout: 60s
    concurrency: 1
    queue: { max: 2, on_full: reject }
"""

# work.sh LOG SLEEP TAG EVENT_ID (a batch run: the id of its own, first event).
WORK = """#!/bin/sh
cat > "$(dirname "$1")/stdin.$ROUSE_RUN_ID"
echo "start $(date +%s%N) $ROUSE_RUN_ID $3 $4 ${ROUSE_BATCH_SIZE:-0}" >> "$1"
[ "$2" = 0 ] || sleep "$2"
echo "end $(date +%s%N) $ROUSE_RUN_ID $3 $4 ${ROUSE_BATCH_SIZE:-0}" >> "$1"
"""

SOURCE = "flow"
NOTE_RATE = "rate limit: over 2 per 1s"


class Exec:
    def __init__(self, run, tag, event_id, batch_size):
        self.run, self.tag, self.event_id = run, tag, event_id
        self.batch_size = batch_size
        self.start = self.end = None


def read_log(srv, name):
    """The handler executions logged for trigger `name`, in start order; every
    execution has a start and an end line, and each run executed once."""
    execs = {}
    for kind, ns, run, tag, eid, size in log_rows(srv.path(name + ".log"), 6):
        x = execs.setdefault(run, Exec(run, tag, eid, int(size)))
        if kind == "start":
            check(x.start is None, "%s.log: run %s started twice" % (name, run))
            x.start = int(ns) / 1e9
        else:
            check(x.end is None, "%s.log: run %s ended twice" % (name, run))
            x.end = int(ns) / 1e9
    return sorted(execs.values(), key=lambda x: (x.start or 0, x.run))


def finished_log(srv, name, n):
    execs = read_log(srv, name)
    if len(execs) == n and all(x.end is not None for x in execs):
        return execs
    return None


def stdin_of(srv, run_id):
    with open(srv.path("stdin." + run_id)) as f:
        return json.load(f)


def post(srv, events):
    r = srv.post_events(events)
    check_eq(r.status, 202, "POST of %d event(s) (%r)" % (
        len(events) if isinstance(events, list) else 1, r))
    return r.json["events"]


def ev(type_, id_, subject=None, **data):
    extra = {"subject": subject} if subject is not None else {}
    return cloudevent(type_, SOURCE, id_, data=data, **extra)


def runs_by_seq(srv, trigger):
    return sorted(srv.runs(trigger=trigger), key=lambda r: r["event_seq"])


def wait_runs_final(srv, trigger, n, timeout=30):
    """Waits until `trigger` has `n` runs, none of them pending/running; returns them
    in journal order."""
    final = ("succeeded", "failed", "skipped", "dead", "cancelled")

    def done():
        runs = runs_by_seq(srv, trigger)
        if len(runs) == n and all(r["state"] in final for r in runs):
            return runs
        return None
    return wait_until(done, timeout, "%d finished runs of %s" % (n, trigger), 0.1)


def last_note(run):
    return run["history"][-1]["note"] if run.get("history") else ""


def overlap(execs):
    """Most executions in progress at one moment."""
    points = []
    for x in execs:
        points.append((x.start, 1))
        points.append((x.end, -1))
    points.sort()  # at equal times, ends (-1) first
    cur = best = 0
    for _, d in points:
        cur += d
        best = max(best, cur)
    return best


def check_perkey(srv):
    keys, per_key = ["alpha", "beta"], 4
    events = [ev("demo.perkey", "pk-%s-%d" % (k, i), subject=k, k=k, i=i)
              for i in range(per_key) for k in keys]
    acks = post(srv, events)
    seq_of = {a["id"]: a["seq"] for a in acks}
    n = len(events)
    execs = wait_until(lambda: finished_log(srv, "perkey", n), 30,
                       "%d perkey executions" % n, 0.1)
    runs = wait_runs_final(srv, "perkey", n)
    check(all(r["state"] == "succeeded" and r["attempt"] == 1 for r in runs),
          "perkey: not every run succeeded in attempt 1: %r"
          % [(r["id"], r["state"], r["attempt"]) for r in runs])
    for k in keys:
        mine = [x for x in execs if x.tag == k]
        check_eq(len(mine), per_key, "perkey: executions of key %s" % k)
        check_eq(overlap(mine), 1, "perkey: most runs of key %s at once (limit 1 per "
                 "key)" % k)
        order = [seq_of[x.event_id] for x in mine]
        check_eq(order, sorted(order), "perkey: seqs of key %s in start order" % k)
    both = overlap(execs)
    check_eq(both, 2, "perkey: most runs at once over both keys (1 per key: the keys "
             "must overlap)")
    return "perkey ok"


def check_rate(srv):
    # --- delay ---
    # GCRA with limit 2 per 1s: T = per/limit = 0.5 s per token, tolerance
    # tau = per - T = 0.5 s (bursts of 2). Taking a token at time l sets the bucket's
    # TAT to max(TAT, l) + T >= l + T, and the next token is due at TAT - tau. For the
    # launches l0 <= l1 <= ... of one bucket that gives
    #   l(k+2) >= TAT(k+1) - T >= TAT(k) >= l(k) + T            (0.5 s)
    #   l(k+3) >= TAT(k+2) - T >= TAT(k) + T >= l(k) + 2T       (1.0 s)
    #   l5 >= TAT4 - T >= TAT0 + 3T >= l0 + 4T                  (2.0 s)
    # i.e. 6 events posted at once start nominally at +0, +0, +0.5, +1.0, +1.5, +2.0
    # s: no 4 starts within less than 1 s (so a 1 s window holds at most 3, not 2: the
    # burst of 2 plus the token at +0.5), no 3 within less than 0.5 s, and the 6 span
    # at least 2 s. The handler logs its start a spawn delay after the launch; that
    # delay varies between runs by at most SLACK (generous: ASan build, busy host),
    # so the logged starts are held to those bounds minus SLACK. Launches can be late,
    # never early; the upper bound on the span only catches a stall.
    SLACK = 0.2
    n = 6
    post(srv, [ev("demo.ratedelay", "rd-%d" % i, subject="rd", i=i) for i in range(n)])
    execs = wait_until(lambda: finished_log(srv, "ratedelay", n), 30,
                       "%d ratedelay executions" % n, 0.1)
    runs = wait_runs_final(srv, "ratedelay", n)
    check(all(r["state"] == "succeeded" for r in runs),
          "ratedelay: in delay mode every run must succeed: %r"
          % [(r["id"], r["state"], last_note(r)) for r in runs])
    s = sorted(x.start for x in execs)
    rel = ["%.3f" % (t - s[0]) for t in s]
    span = s[-1] - s[0]
    check(span >= 2.0 - SLACK, "ratedelay: the 6 starts span %.3fs, the bucket allows "
          "no less than 2s (starts at %s)" % (span, rel))
    check(span <= 2.0 + 1.5, "ratedelay: the 6 starts span %.3fs, far over the 2s "
          "the bucket needs (starts at %s)" % (span, rel))
    for i in range(n - 3):
        check(s[i + 3] - s[i] >= 1.0 - SLACK, "ratedelay: 4 starts within %.3fs (at "
              "most 3 fit in 1s at 2 per 1s; starts at %s)" % (s[i + 3] - s[i], rel))
    for i in range(n - 2):
        check(s[i + 2] - s[i] >= 0.5 - SLACK, "ratedelay: 3 starts within %.3fs (one "
              "token per 0.5s after the burst of 2; starts at %s)"
              % (s[i + 2] - s[i], rel))

    # --- drop ---
    n = 5
    acks = post(srv, [ev("demo.ratedrop", "rx-%d" % i, subject="rx", i=i)
                      for i in range(n)])
    runs = wait_runs_final(srv, "ratedrop", n)
    states = [r["state"] for r in runs]
    check_eq(states, ["succeeded"] * 2 + ["skipped"] * 3,
             "ratedrop: states in journal order (burst of 2, then over the rate)")
    for r in runs[2:]:
        check(last_note(r).startswith(NOTE_RATE), "ratedrop: note of skipped run %s: "
              "%r" % (r["id"], last_note(r)))
        check_eq(r["attempt"], 0, "ratedrop: attempts of skipped run %s" % r["id"])
    check_eq(len(read_log(srv, "ratedrop")), 2, "ratedrop: handler executions")
    check_eq(sorted(r["event_seq"] for r in runs), [a["seq"] for a in acks],
             "ratedrop: one run per event")
    # The bucket refills (one token per 0.5 s): a later event runs.
    time.sleep(1.1)
    post(srv, [ev("demo.ratedrop", "rx-late", subject="rx")])
    runs = wait_runs_final(srv, "ratedrop", n + 1)
    check_eq(runs[-1]["state"], "succeeded", "ratedrop: state of the event posted "
             "after the bucket refilled (%r)" % last_note(runs[-1]))
    return "rate ok (delay starts at +%s s)" % ", +".join(rel[1:])


def check_debounce(srv):
    def burst(ids, gap, key="d"):
        """Posts one event per id, `gap` apart; returns when the first and the last
        one were sent (their runs cannot be created before)."""
        sent = []
        for i, id_ in enumerate(ids):
            if i > 0:
                time.sleep(gap)
            sent.append(time.time())
            post(srv, [ev("demo.debounce", id_, subject=key, k=key)])
        return sent[0], sent[-1]

    first_ids = ["db1-%d" % i for i in range(5)]
    _, sent_last = burst(first_ids, 0.1)
    execs = wait_until(lambda: finished_log(srv, "debounce", 1), 10,
                       "the run of the first debounce burst", 0.05)
    runs = wait_runs_final(srv, "debounce", 5)
    check_eq([r["state"] for r in runs], ["skipped"] * 4 + ["succeeded"],
             "debounce: states of the first burst in journal order")
    for a, b in zip(runs, runs[1:]):
        check_eq(last_note(a), 'debounced: superseded by run %s (key "d")' % b["id"],
                 "debounce: note of %s" % a["id"])
    winner = runs[-1]
    check_eq(execs[0].run, winner["id"], "debounce: the run that executed")
    check_eq(stdin_of(srv, winner["id"])["id"], first_ids[-1],
             "debounce: event id on stdin of the run (the burst's last)")
    waited = execs[0].start - sent_last
    check(waited >= 0.5 - 0.01, "debounce: the run started %.3fs after the last event "
          "of the burst was sent; the period is 500ms" % waited)

    # A second burst, after the first one's run finished, gives one more run.
    time.sleep(0.3)
    second_ids = ["db2-%d" % i for i in range(3)]
    burst(second_ids, 0.1)
    execs = wait_until(lambda: finished_log(srv, "debounce", 2), 10,
                       "the run of the second debounce burst", 0.05)
    runs = wait_runs_final(srv, "debounce", 8)
    check_eq([r["state"] for r in runs], ["skipped"] * 4 + ["succeeded"]
             + ["skipped"] * 2 + ["succeeded"], "debounce: states after 2 bursts")
    check_eq(stdin_of(srv, runs[-1]["id"])["id"], second_ids[-1],
             "debounce: event on stdin of the second burst's run")
    check_eq(sorted(x.run for x in execs), sorted([winner["id"], runs[-1]["id"]]),
             "debounce: runs executed over both bursts")

    # max_wait: a stream of 16 events 200 ms apart (3 s, never a 500 ms pause) on key
    # "m": the first run starts max_wait (2 s) after the stream's first event, while
    # the stream goes on; the events after it form a second burst whose run gets the
    # last event. Exactly 2 runs execute.
    stream_ids = ["dbm-%02d" % i for i in range(16)]
    sent_first, sent_last = burst(stream_ids, 0.2, key="m")
    runs = wait_runs_final(srv, "debounce", 8 + len(stream_ids))
    mine = [r for r in runs if r["event_id"] in stream_ids]
    ran = [r for r in mine if r["state"] == "succeeded"]
    check_eq(len(ran), 2, "debounce max_wait: runs executed for the stream (%r)"
             % [(r["event_id"], r["state"]) for r in mine])
    check(all(r["state"] == "skipped" and last_note(r).startswith(
        "debounced: superseded by run ") for r in mine if r not in ran),
        "debounce max_wait: the other runs of the stream: %r"
        % [(r["event_id"], r["state"], last_note(r)) for r in mine if r not in ran])
    starts = sorted(x.start for x in read_log(srv, "debounce") if x.tag == "m")
    check_eq(len(starts), 2, "debounce max_wait: handler executions for the stream")
    capped = starts[0] - sent_first
    check(2.0 - 0.01 <= capped <= 2.0 + 0.5, "debounce max_wait: the first run of the "
          "stream started %.3fs after its first event; max_wait is 2s" % capped)
    check(starts[0] < sent_last, "debounce max_wait: the first run started only after "
          "the stream ended")
    check_eq(stdin_of(srv, ran[-1]["id"])["id"], stream_ids[-1],
             "debounce max_wait: event on stdin of the stream's last run")
    return ("debounce ok (ran %.2fs after a burst's last event; max_wait capped a "
            "stream at %.2fs)" % (waited, capped))


def check_batch(srv):
    n = 7
    events = [ev("demo.batch", "bt-%d" % i, subject="b", i=i) for i in range(n)]
    sent = time.time()
    acks = post(srv, events)
    seq_of = {a["id"]: a["seq"] for a in acks}
    execs = wait_until(lambda: finished_log(srv, "batch", 3), 15,
                       "3 batch executions", 0.05)
    time.sleep(0.3)  # a 4th execution would show up now
    runs = wait_runs_final(srv, "batch", n)
    execs = read_log(srv, "batch")
    check_eq(len(execs), 3, "batch: handler executions for 7 events with max_size 3")
    leaders = [r for r in runs if r["state"] == "succeeded"]
    members = [r for r in runs if r["state"] == "skipped"]
    check_eq((len(leaders), len(members)), (3, 4),
             "batch: (succeeded, skipped) runs: %r"
             % [(r["id"], r["state"], last_note(r)) for r in runs])
    by_run = {x.run: x for x in execs}
    got_ids, sizes = [], []
    event_to_leader = {}
    for r in leaders:
        batch = stdin_of(srv, r["id"])
        check(isinstance(batch, list), "batch: stdin of %s is not a JSON array: %r"
              % (r["id"], batch))
        ids = [e["id"] for e in batch]
        check_eq(by_run[r["id"]].batch_size, len(batch),
                 "batch: ROUSE_BATCH_SIZE of %s" % r["id"])
        seqs = [seq_of[i] for i in ids]
        check_eq(seqs, sorted(seqs), "batch: journal order inside batch %s" % r["id"])
        check_eq(ids[0], r["event_id"], "batch: first event of %s is its own"
                 % r["id"])
        got_ids.extend(ids)
        sizes.append(len(batch))
        for i in ids:
            event_to_leader[i] = r["id"]
    check_eq(sizes, [3, 3, 1], "batch: sizes of the batches in journal order")
    check_eq(sorted(got_ids), sorted(e["id"] for e in events),
             "batch: events received over all batches (each exactly once)")
    for m in members:
        check_eq(last_note(m), "batched into run %s" % event_to_leader[m["event_id"]],
                 "batch: note of %s" % m["id"])
    full = [by_run[r["id"]].start - sent for r in leaders[:2]]
    last = by_run[leaders[2]["id"]].start - sent
    check(max(full) < 0.9, "batch: full batches started %.3fs/%.3fs after the post; "
          "max_size must start them without waiting for max_wait" % tuple(full))
    check(last >= 1.0 - 0.02, "batch: the partial batch started %.3fs after the post, "
          "before max_wait (1s)" % last)
    check(last <= 1.0 + 1.5, "batch: the partial batch started only %.3fs after the "
          "post (max_wait 1s)" % last)
    return "batch ok (3+3 at +%.2fs, 1 at +%.2fs)" % (max(full), last)


def check_others(srv):
    # priority: a blocker takes the only slot; the 3 others start by priority.
    post(srv, [ev("demo.prio", "pr-block", subject="p", p=0)])
    wait_until(lambda: read_log(srv, "prio"), 10, "the priority blocker to start", 0.02)
    post(srv, [ev("demo.prio", "pr-%d" % p, subject="p", p=p) for p in (1, 5, 3)])
    # singleton: the first run is active for 0.5 s, the others are skipped.
    post(srv, [ev("demo.single", "sg-%d" % i, subject="s") for i in range(3)])
    # queue bound: 1 runs, 2 wait, 2 are rejected.
    post(srv, [ev("demo.queued", "q-%d" % i, subject="q") for i in range(5)])

    runs = wait_runs_final(srv, "prio", 4)
    check(all(r["state"] == "succeeded" for r in runs), "prio: states %r"
          % [r["state"] for r in runs])
    order = [x.event_id for x in read_log(srv, "prio")]
    check_eq(order, ["pr-block", "pr-5", "pr-3", "pr-1"], "prio: start order")

    runs = wait_runs_final(srv, "single", 3)
    check_eq([r["state"] for r in runs], ["succeeded", "skipped", "skipped"],
             "single: states in journal order")
    for r in runs[1:]:
        check_eq(last_note(r), "singleton: run %s is active" % runs[0]["id"],
                 "single: note of %s" % r["id"])

    runs = wait_runs_final(srv, "queued", 5)
    check_eq([r["state"] for r in runs], ["succeeded"] * 3 + ["dead"] * 2,
             "queued: states in journal order (1 running + 2 waiting, then full)")
    for r in runs[3:]:
        check_eq(last_note(r), "queue full (max 2)", "queued: note of %s" % r["id"])
    check_eq(len(read_log(srv, "queued")), 3, "queued: handler executions")
    return "priority, singleton, queue ok"


def check_rate_restart(srv):
    post(srv, [ev("demo.ratehour", "rh-%d" % i, subject="rh") for i in range(2)])
    runs = wait_runs_final(srv, "ratehour", 2)
    check(all(r["state"] == "succeeded" for r in runs), "ratehour: states %r"
          % [r["state"] for r in runs])
    srv.kill9()
    srv.start()
    post(srv, [ev("demo.ratehour", "rh-2", subject="rh")])
    runs = wait_runs_final(srv, "ratehour", 3)
    check_eq((runs[2]["state"], last_note(runs[2])),
             ("skipped", "rate limit: over 2 per 1h"),
             "ratehour: the third run after kill -9 and a restart")
    return "rate bucket kept across kill -9"


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="flow", keep=args.keep)
    srv.write_script("work.sh", WORK)
    srv.start()
    results = [check_perkey(srv), check_rate(srv), check_debounce(srv),
               check_batch(srv), check_others(srv), check_rate_restart(srv)]
    check_eq(srv.stop(), 0, "exit code after SIGTERM")
    return "; ".join(results)


if __name__ == "__main__":
    run_test("flow", main)
