#!/usr/bin/env python3
"""Retries and the dead-letter queue: a handler that always fails is retried with
exponential backoff (each wait recorded in the run's history), ends `dead` in the DLQ
after its attempts, `rouse dlq replay` runs it again as a new attempt chain, `drop`
takes it out. The wait before a retry is a durable wakeup: a run waiting for its retry
when the server is SIGKILLed gets exactly its remaining attempt after the restart, and
not before its backoff is over; `rouse runs wake` starts a retry now."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_id_for, run_test)

TRIGGERS = """\
  flaky:
    on: { type: [demo.flaky] }
    run: { exec: ["{dir}/flaky.sh"], timeout: 30s }
    retry: { attempts: 3, backoff: 200ms, max_backoff: 300ms, jitter: 0 }
  slow-retry:
    on: { type: [demo.slow] }
    run: { exec: ["{dir}/fail.sh"], timeout: 30s }
    retry: { attempts: 2, backoff: 3s, jitter: 0 }
  hour-retry:
    on: { type: [demo.hour] }
    run: { exec: ["{dir}/fail.sh"], timeout: 30s }
    retry: { attempts: 2, backoff: 1h }
  once:
    on: { type: [demo.once] }
    run: { exec: ["{dir}/fail.sh"], timeout: 30s }
"""

FLAKY = """#!/bin/sh
cat > /dev/null
echo "attempt $ROUSE_ATTEMPT"
[ -f "{dir}/heal" ] && exit 0
exit 7
"""

FAIL = "#!/bin/sh\ncat > /dev/null\nexit 1\n"


def post(srv, type_, id_):
    r = srv.post_events(cloudevent(type_, "it", id_))
    check_eq(r.status, 202, "POST %s" % id_)
    return r.json["events"][0]["seq"]


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="dlq", keep=args.keep)
    srv.write_script("flaky.sh", FLAKY.replace("{dir}", srv.dir))
    srv.write_script("fail.sh", FAIL)
    srv.start()

    # --- retries with backoff, then dead ---
    run_id = run_id_for(post(srv, "demo.flaky", "f-1"), "flaky")
    run = srv.wait_run_state(run_id, "dead")
    check_eq(run["attempt"], 3, "attempts made")
    states = [h["state"] for h in run["history"]]
    check_eq(states, ["pending", "running", "retrying", "running", "retrying",
                      "running", "dead"], "history of the dead run")
    notes = [h["note"] for h in run["history"]]
    check("attempt 2 of 3 in 200ms" in notes[2], "first backoff recorded: %r" % notes)
    check("attempt 3 of 3 in 300ms" in notes[4], "capped backoff recorded: %r" % notes)
    check("gave up after 3 attempts" in notes[6], "dead note: %r" % notes)
    dlq = srv.get_json("/api/dlq")["runs"]
    check_eq([r["id"] for r in dlq], [run_id], "the DLQ holds the dead run")
    check(run_id in srv.cli("dlq", "ls"), "rouse dlq ls lists it")

    # --- no retry policy: failed, not dead ---
    once = run_id_for(post(srv, "demo.once", "o-1"), "once")
    srv.wait_run_state(once, "failed")
    r = srv.request("POST", "/api/dlq/%s/replay" % once)
    check_eq(r.status, 409, "replay of a run that is not dead")
    r = srv.request("POST", "/api/dlq/no-such-run/replay")
    check_eq(r.status, 404, "replay of an unknown run")

    # --- replay: a new attempt chain that succeeds ---
    open(srv.path("heal"), "w").close()
    out = srv.cli("dlq", "replay", run_id)
    check("replayed run " + run_id in out, "replay output %r" % out)
    run = srv.wait_run_state(run_id, "succeeded")
    check_eq(run["attempt"], 1, "attempt of the replayed chain")
    check(any("replayed from the dead-letter queue after 3 attempt(s)" in h["note"]
              for h in run["history"]), "replay recorded in the history")
    check("attempt 1" in run["stdout"], "ROUSE_ATTEMPT restarts at 1")
    check_eq(srv.get_json("/api/dlq")["runs"], [], "DLQ after the replay")

    # --- drop ---
    os.remove(srv.path("heal"))
    second = run_id_for(post(srv, "demo.flaky", "f-2"), "flaky")
    srv.wait_run_state(second, "dead")
    srv.cli("dlq", "drop", second)
    run = srv.get_json("/api/runs/" + second)
    check_eq(run["state"], "failed", "a dropped run is kept as failed")
    check_eq(srv.get_json("/api/dlq")["runs"], [], "DLQ after the drop")

    # --- SIGKILL while a run waits for its retry ---
    slow = run_id_for(post(srv, "demo.slow", "s-1"), "slow-retry")
    run = srv.wait_run_state(slow, "retrying")
    failed_at = run["history"][-1]["at"]
    srv.kill9()
    srv.start()
    check_eq(srv.run_state(slow), "retrying",
             "right after the restart the run still waits for its backoff")
    run = srv.wait_run_state(slow, "dead")
    check_eq(run["attempt"], 2, "attempts of the run retried across a SIGKILL")
    starts = [h["at"] for h in run["history"] if h["state"] == "running"]
    check_eq(len(starts), 2, "exactly its remaining attempt ran after the restart")
    waited = parse_time(starts[1]) - parse_time(failed_at)
    check(waited >= 2.99, "the retry waited its 3s backoff across the restart, "
          "waited %.3fs" % waited)

    # --- rouse runs wake: the next attempt now ---
    hour = run_id_for(post(srv, "demo.hour", "h-1"), "hour-retry")
    srv.wait_run_state(hour, "retrying")
    srv.cli("runs", "wake", hour)
    run = srv.wait_run_state(hour, "dead")
    check("next attempt now, by request" in [h["note"] for h in run["history"]],
          "the early retry is in the history: %r" % run["history"])
    return "dlq: backoff, dead, replay, drop and durable retry wait across SIGKILL ok"


def parse_time(text):
    """Seconds since the epoch of an RFC 3339 UTC time with up to 9 fraction digits."""
    import calendar
    import re
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z$", text)
    check(m, "not an RFC 3339 UTC time: %r" % text)
    whole = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)) + (0, 0, 0))
    return whole + (float(m.group(7)) if m.group(7) else 0.0)


if __name__ == "__main__":
    run_test("dlq", main)
