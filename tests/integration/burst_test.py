#!/usr/bin/env python3
"""Burst: 300 events at once for a trigger without a concurrency limit, with a handler
that takes 1 s. More runs are due than the process runner takes at once (256): the
runs beyond that must wait for a slot, not fail. Every run succeeds, in attempt 1,
and the handler ran exactly once per run.

(Regression test for: runs failing with "spawn ...: overloaded (256 processes
running)" without their handler ever running; this is also what makes
crash_recovery fail when hundreds of interrupted runs are restarted at once.)"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_test, wait_until)

N = 300

TRIGGERS = """\
  burst:
    on: { type: [demo.burst] }
    run: { exec: ["{dir}/slow.sh"], timeout: 120s }
"""

SLOW = """#!/bin/sh
cat >/dev/null
sleep 1
echo "$ROUSE_RUN_ID $ROUSE_ATTEMPT" >> "{dir}/executions.log"
"""


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="burst", keep=args.keep)
    srv.write_script("slow.sh", SLOW.replace("{dir}", srv.dir))
    srv.start()
    r = srv.post_events([cloudevent("demo.burst", "burst", "b-%03d" % i)
                         for i in range(N)])
    check_eq(r.status, 202, "status of the batch of %d events (%r)" % (N, r))

    def finished():
        runs = srv.runs()
        if len(runs) == N and all(x["state"] in ("succeeded", "failed") for x in runs):
            return runs
        return None
    runs = wait_until(finished, 90, "all %d runs to finish" % N, 0.2)
    failed = [x for x in runs if x["state"] != "succeeded"]
    if failed:
        errors = {}
        for x in failed:
            errors[x.get("error")] = errors.get(x.get("error"), 0) + 1
        check(False, "%d of %d runs failed instead of waiting for a slot; errors: %r; "
              "example: %r" % (len(failed), N, errors, srv.run(failed[0]["id"])))
    check(all(x["attempt"] == 1 for x in runs), "runs needed more than one attempt")
    with open(srv.path("executions.log")) as f:
        execs = f.read().split("\n")[:-1]
    check_eq(len(execs), N, "handler executions")
    check_eq(len(set(execs)), N, "distinct (run, attempt) executions")
    check_eq(srv.stop(), 0, "exit code after SIGTERM")
    return "%d runs of an unlimited trigger with a 1 s handler all succeeded" % N


if __name__ == "__main__":
    run_test("burst", main)
