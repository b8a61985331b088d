#!/usr/bin/env python3
"""Resume-after-wait runs with the real binary. A handler writes to $ROUSE_CONTROL and
the run becomes `waiting`; it is started again with ROUSE_RESUME, its state and (for
wait_for) the matching event on stdin:
- sleep 3s, SIGKILL during the sleep, restart: the run resumes exactly once, with its
  state, not before the wake time;
- wait_for, SIGKILL while waiting, restart, then the matching event: resumes once;
- wait_for whose event arrived while the handler still ran (before the wait was
  registered): the lookback from the start of the attempt finds it;
- wait_for with a timeout: resumes with ROUSE_RESUME=timeout;
- `rouse wake-me --in 1s` from inside a run puts it to sleep after it exits;
- `rouse runs wake` wakes early (ROUSE_RESUME=wake), `rouse runs cancel` cancels, and
  both answer an error for a run that is not waiting;
- a malformed control file fails the run with the reason."""

import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_id_for, run_test, wait_until)

TRIGGERS = """\
  work:
    on: { type: [demo.work] }
    run: { exec: ["/usr/bin/python3", "{dir}/handler.py"], timeout: 60s }
"""

HANDLER = r'''
import json, os, sys, time
d = "{dir}"
doc = json.load(sys.stdin)
rid = os.environ["ROUSE_RUN_ID"]
resume = os.environ.get("ROUSE_RESUME", "")
with open(os.path.join(d, "log"), "a") as f:
    f.write(json.dumps({"run": rid, "resume": resume, "at": time.time(),
                        "attempt": os.environ.get("ROUSE_ATTEMPT"),
                        "stdin": doc}) + "\n")
if resume:
    sys.exit(0)
data = doc["data"]
kind = data["kind"]
key = data.get("key", "")
pattern = {"type": ["demo.done"], "data": {"key": [key]}}
if kind == "sleep":
    out = {"sleep": "3s", "state": {"step": 1, "key": key}}
elif kind == "wait":
    out = {"wait_for": {"pattern": pattern, "timeout": "1h"}, "state": {"key": key}}
elif kind == "lookback":
    open(os.path.join(d, "started-" + key), "w").close()
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(d, "go-" + key)) and time.time() < deadline:
        time.sleep(0.02)
    out = {"wait_for": {"pattern": pattern}, "state": {"key": key}}
elif kind == "timeout":
    out = {"wait_for": {"pattern": pattern, "timeout": "1s"}, "state": {"key": key}}
elif kind == "wakeme":
    import subprocess
    r = subprocess.run(["{rouse}", "wake-me", "--in", "1s", "--state", '{"w": 1}'],
                       capture_output=True, text=True, timeout=30)
    sys.exit(0 if r.returncode == 0 else 3)
elif kind == "forever":
    out = {"wait_for": {"pattern": pattern}}
else:
    with open(os.environ["ROUSE_CONTROL"], "w") as f:
        f.write('{"sleep": 5}')
    sys.exit(0)
with open(os.environ["ROUSE_CONTROL"], "w") as f:
    json.dump(out, f)
'''


def log_lines(srv, run_id):
    try:
        with open(srv.path("log")) as f:
            lines = [json.loads(x) for x in f if x.strip()]
    except FileNotFoundError:
        return []
    return [x for x in lines if x["run"] == run_id]


def start_work(srv, id_, kind, key=""):
    r = srv.post_events(cloudevent("demo.work", "it", id_,
                                   data={"kind": kind, "key": key}))
    check_eq(r.status, 202, "POST %s" % id_)
    return run_id_for(r.json["events"][0]["seq"], "work")


def send_done(srv, id_, key):
    r = srv.post_events(cloudevent("demo.done", "it", id_, data={"key": key}))
    check_eq(r.status, 202, "POST %s" % id_)
    return r.json["events"][0]["seq"]


def gauge(srv, name):
    r = srv.get("/metrics")
    m = re.search(r"^%s (\S+)$" % name, r.text, re.M)
    check(m is not None, "%s on /metrics" % name)
    return float(m.group(1))


def check_gauges(srv, waiting, wakeups, what):
    """The waits and wakeups gauges reach the expected values (they follow the
    dispatcher's commits)."""
    seen = []

    def reached():
        seen[:] = [gauge(srv, "rouse_runs_waiting"), gauge(srv, "rouse_wakeups_stored")]
        return seen == [waiting, wakeups]
    wait_until(reached, 10, "rouse_runs_waiting %d and rouse_wakeups_stored %d %s"
               % (waiting, wakeups, what))


def check_resumed_once(srv, run_id, reason):
    lines = log_lines(srv, run_id)
    check_eq([x["resume"] for x in lines], ["", reason],
             "executions of %s (first start, then one resume)" % run_id)
    return lines


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="wait", keep=args.keep)
    srv.write_script("handler.py", HANDLER.replace("{dir}", srv.dir).replace(
        "{rouse}", os.path.abspath(args.rouse)))
    srv.start()

    # --- sleep, SIGKILL during the sleep, restart ---
    sleeper = start_work(srv, "s-1", "sleep", "s1")
    run = srv.wait_run_state(sleeper, "waiting")
    check_eq(run["wait"]["kind"], "sleep", "wait kind of the sleeping run")
    check_eq(run["wait"]["state"], {"step": 1, "key": "s1"}, "stored state")
    check_gauges(srv, 0, 1, "while one run sleeps")
    slept_at = log_lines(srv, sleeper)[0]["at"]
    srv.kill9()
    srv.start()
    run = srv.wait_run_state(sleeper, "succeeded", timeout=30)
    lines = check_resumed_once(srv, sleeper, "sleep")
    resumed = lines[1]
    check(resumed["at"] >= slept_at + 2.9,
          "the sleeper resumed %.2fs after it went to sleep, before its 3s were up"
          % (resumed["at"] - slept_at))
    check_eq(resumed["stdin"]["state"], {"step": 1, "key": "s1"}, "state on resume")
    check_eq(resumed["stdin"]["wake"]["reason"], "sleep", "wake reason on stdin")
    check_eq(resumed["stdin"]["event"]["id"], "s-1", "original event on resume")
    check_eq(resumed["attempt"], "1", "ROUSE_ATTEMPT of the resumed step")
    check_eq(run["wait"]["resumes"], 1, "resume count")

    # --- wait_for, SIGKILL while waiting, restart, then the event ---
    waiter = start_work(srv, "w-1", "wait", "w1")
    srv.wait_run_state(waiter, "waiting")
    send_done(srv, "other-1", "not-w1")  # matches no wait
    srv.kill9()
    srv.start()
    check_eq(srv.run_state(waiter), "waiting", "waiter state after the restart")
    check_gauges(srv, 1, 1, "while one run waits for an event (1h timeout), after a restart")
    seq = send_done(srv, "done-w1", "w1")
    run = srv.wait_run_state(waiter, "succeeded")
    lines = check_resumed_once(srv, waiter, "event")
    wake = lines[1]["stdin"]["wake"]
    check_eq(wake["event"]["id"], "done-w1", "the matching event on stdin")
    check_eq(lines[1]["stdin"]["state"], {"key": "w1"}, "state of the waiter")
    check_eq(run["wait"]["wake_event_seq"], seq, "wake event seq in the run")
    check_gauges(srv, 0, 0, "once the waiter resumed")

    # --- the event arrives while the handler still runs (lookback) ---
    early = start_work(srv, "l-1", "lookback", "l1")
    wait_until(lambda: os.path.exists(srv.path("started-l1")), 30,
               "the lookback handler to start")
    send_done(srv, "done-l1", "l1")
    open(srv.path("go-l1"), "w").close()
    srv.wait_run_state(early, "succeeded")
    lines = check_resumed_once(srv, early, "event")
    check_eq(lines[1]["stdin"]["wake"]["event"]["id"], "done-l1",
             "event found by the lookback")

    # --- timeout ---
    timed = start_work(srv, "t-1", "timeout", "t1")
    srv.wait_run_state(timed, "succeeded", timeout=30)
    lines = check_resumed_once(srv, timed, "timeout")
    check("event" not in lines[1]["stdin"]["wake"], "no event on a timeout")

    # --- early wake and cancel through the CLI ---
    woken = start_work(srv, "f-1", "forever", "f1")
    srv.wait_run_state(woken, "waiting")
    out = srv.cli("runs", "wake", woken)
    check("woke run " + woken in out, "rouse runs wake output: %r" % out)
    srv.wait_run_state(woken, "succeeded")
    check_resumed_once(srv, woken, "wake")
    out = srv.cli("runs", "wake", woken, expect=1)
    check("not waiting" in out, "waking a finished run: %r" % out)

    doomed = start_work(srv, "f-2", "forever", "f2")
    srv.wait_run_state(doomed, "waiting")
    srv.cli("runs", "cancel", doomed)
    run = srv.wait_run_state(doomed, "cancelled")
    send_done(srv, "done-f2", "f2")  # must not wake a cancelled run
    out = srv.cli("runs", "cancel", doomed, expect=1)
    check("cannot be cancelled" in out, "cancelling twice: %r" % out)
    r = srv.request("POST", "/api/runs/no-such-run/wake")
    check_eq(r.status, 404, "waking an unknown run")

    # --- rouse wake-me from inside the run ---
    napper = start_work(srv, "n-1", "wakeme", "n1")
    run = srv.wait_run_state(napper, "succeeded", timeout=30)
    lines = check_resumed_once(srv, napper, "sleep")
    check_eq(lines[1]["stdin"]["state"], {"w": 1}, "state given to wake-me")
    out = srv.cli("wake-me", "--in", "1s", expect=2)
    check("only inside a run" in out, "wake-me outside a run: %r" % out)

    # --- a malformed control file fails the run ---
    bad = start_work(srv, "b-1", "bad")
    run = srv.wait_run_state(bad, "failed")
    check("control file: sleep must be a duration" in run["error"],
          "error of the malformed control file: %r" % run["error"])

    time.sleep(0.5)
    check_eq(srv.run_state(doomed), "cancelled", "the cancelled run stays cancelled")
    check_eq(len(log_lines(srv, doomed)), 1, "the cancelled run never resumed")
    srv.stop()
    return "sleep/kill9, wait_for/kill9, lookback, timeout, wake, cancel all resumed once"


if __name__ == "__main__":
    run_test("wait", main)
