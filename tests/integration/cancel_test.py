#!/usr/bin/env python3
"""Stopping running handlers, with the real binary and real processes.

- `rouse runs cancel` of a running exec run: its process group gets SIGTERM, the run ends
  `cancelled` (not retried, although the trigger has retries) with
  "cancelled: by request (SIGTERM)", and the process is gone;
- a handler that ignores SIGTERM is killed after the trigger's kill_grace, and the note
  says so;
- cancelling a finished run is 409 and changes nothing;
- singleton {mode: cancel}: a new event for the key stops the running run (ended
  `cancelled`, "singleton: replaced by run ...") and its own run starts after it and
  succeeds;
- kill -9 of rouse while a handler runs: on restart, before the run's next attempt, the
  old handler process is killed (logged), so the two never overlap: the second attempt
  starts after the first process is gone, and succeeds."""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_id_for, run_test, wait_until)

TRIGGERS = """\
  slow:
    on: { type: [demo.slow] }
    run: { exec: ["{dir}/work.sh", "{dir}/slow.log", "{{data.sleep}}"], timeout: 60s }
    retry: { attempts: 3, backoff: 100ms }
  stubborn:
    on: { type: [demo.stubborn] }
    run: { exec: ["{dir}/stubborn.sh", "{dir}/stubborn.log"], timeout: 60s, kill_grace: 300ms }
  single:
    on: { type: [demo.single] }
    run: { exec: ["{dir}/work.sh", "{dir}/single.log", "{{data.sleep}}"], timeout: 60s }
    singleton: { key: "{{data.k}}", mode: cancel }
"""

# work.sh LOG SECONDS: logs "<pid> <run> <attempt> <start ns>", then sleeps (on the
# first attempt only) as the process itself.
WORK = """#!/bin/sh
cat > /dev/null
echo "$$ $ROUSE_RUN_ID $ROUSE_ATTEMPT $(date +%s%N)" >> "$1"
if [ "$ROUSE_ATTEMPT" = 1 ]; then exec sleep "$2"; fi
exit 0
"""

# stubborn.sh LOG: ignores SIGTERM (its sleep inherits that) until SIGKILL.
STUBBORN = """#!/bin/sh
trap '' TERM
cat > /dev/null
echo "$$ $ROUSE_RUN_ID $ROUSE_ATTEMPT $(date +%s%N)" >> "$1"
sleep 30
"""


def log(srv, name):
    try:
        with open(srv.path(name)) as f:
            return [x.split() for x in f.read().split("\n") if x.strip()]
    except OSError:
        return []


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def post(srv, type_, id_, data):
    r = srv.post_events(cloudevent(type_, id_=id_, data=data))
    check(r.status == 202, "event %s accepted: %r" % (id_, r))
    return r.json["events"][0]["seq"]


def started(srv, name, run_id, attempt="1"):
    """Waits for the handler's line of `run_id`'s attempt; returns its pid."""
    line = wait_until(lambda: [x for x in log(srv, name)
                               if x[1] == run_id and x[2] == attempt],
                      30, "run %s attempt %s to start" % (run_id, attempt))[0]
    return int(line[0])


def last_note(run):
    return run["history"][-1].get("note", "")


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="cancel", keep=args.keep)
    srv.write_script("work.sh", WORK)
    srv.write_script("stubborn.sh", STUBBORN)
    srv.start()

    # --- cancel a running run ---
    run = run_id_for(post(srv, "demo.slow", "s-1", {"sleep": 30}), "slow")
    pid = started(srv, "slow.log", run)
    out = srv.cli("runs", "cancel", run)
    check("cancelled" in out, "rouse runs cancel: %r" % out)
    got = srv.run(run)
    check_eq((got["state"], got["attempt"]), ("cancelled", 1), "the cancelled run")
    check_eq(last_note(got), "cancelled: by request (SIGTERM)", "its note")
    wait_until(lambda: not alive(pid), 10, "the handler process to be gone")
    time.sleep(0.5)
    check_eq(srv.run(run)["state"], "cancelled", "a cancelled run is not retried")
    check_eq(len(log(srv, "slow.log")), 1, "no second attempt")

    # --- a handler that ignores SIGTERM ---
    run = run_id_for(post(srv, "demo.stubborn", "t-1", {}), "stubborn")
    pid = started(srv, "stubborn.log", run)
    t0 = time.monotonic()
    srv.cli("runs", "cancel", run)
    elapsed = time.monotonic() - t0
    got = srv.run(run)
    check_eq(got["state"], "cancelled", "the stubborn run")
    check("SIGKILL after 300ms grace" in last_note(got), "note: %r" % last_note(got))
    check(elapsed >= 0.25, "the grace was given (%.2fs)" % elapsed)
    wait_until(lambda: not alive(pid), 10, "the stubborn process to be gone")

    # --- a finished run cannot be cancelled ---
    out = srv.cli("runs", "cancel", run, expect=1)
    check("cancelled and cannot be cancelled" in out, "second cancel: %r" % out)

    # --- singleton cancel stops the running run ---
    first = run_id_for(post(srv, "demo.single", "g-1", {"k": "a", "sleep": 30}), "single")
    pid = started(srv, "single.log", first)
    second = run_id_for(post(srv, "demo.single", "g-2", {"k": "a", "sleep": 0}),
                        "single")
    got = srv.wait_run_finished(first)
    check_eq(got["state"], "cancelled", "the replaced singleton")
    check(("singleton: replaced by run " + second) in last_note(got),
          "note: %r" % last_note(got))
    check_eq(srv.wait_run_finished(second)["state"], "succeeded", "the new singleton")
    check(not alive(pid), "the replaced handler is gone")

    # --- kill -9 leaves no handler behind ---
    run = run_id_for(post(srv, "demo.slow", "s-2", {"sleep": 30}), "slow")
    pid = started(srv, "slow.log", run)
    srv.kill9()
    check(alive(pid), "the handler outlives rouse's SIGKILL")
    srv.start()
    wait_until(lambda: "killed 1 handler process(es)" in srv.stderr_text(), 10,
               "the restart to report the leftover handler")
    check(not alive(pid), "the leftover handler was killed before recovery")
    second_pid = started(srv, "slow.log", run, attempt="2")
    check(second_pid != pid, "attempt 2 is a new process")
    check_eq(srv.wait_run_finished(run)["state"], "succeeded", "the recovered run")
    check(run in srv.stderr_text().split("killed 1 handler")[1].split("\n")[0],
          "the log names the run")
    srv.stop()
    return "cancel: running runs stopped (TERM, KILL after grace), singleton, kill -9"


if __name__ == "__main__":
    run_test("cancel", main)
