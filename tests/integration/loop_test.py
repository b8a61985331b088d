#!/usr/bin/env python3
"""Loop protection with the real binary: a trigger whose handler emits (with
`rouse emit`, which sends the run's ROUSE_RUN_TOKEN) the very event that triggers it
runs max_depth + 1 times; the run for the event one step deeper is created `dead`,
in the dead-letter queue with the causation chain. Emitted events carry rousecause
and rousedepth. A trigger with `ignore_self` is not started by its own events, and a
forged run token is rejected with 401."""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_test, wait_until)

MAX_DEPTH = 3

TRIGGERS = """\
  echo:
    on: { type: [demo.loop] }
    run: { exec: ["/bin/sh", "-c", "cat > /dev/null; {rouse} emit --type demo.loop --source loop"], timeout: 30s }
  selfish:
    on: { type: [demo.self] }
    ignore_self: true
    run: { exec: ["/bin/sh", "-c", "cat > /dev/null; {rouse} emit --type demo.self --source loop"], timeout: 30s }
"""


def runs_of(srv, trigger):
    return srv.get_json("/api/runs?trigger=%s&limit=100" % trigger)["runs"]


def main():
    args = parse_args(__doc__)
    rouse = os.path.abspath(args.rouse)
    srv = RouseServer(rouse, TRIGGERS.replace("{rouse}", rouse),
                      node_extra={"max_depth": MAX_DEPTH}, name="loop",
                      keep=args.keep)
    srv.start()

    r = srv.post_events(cloudevent("demo.loop", "it", "root"))
    check_eq(r.status, 202, "POST the first event")
    wait_until(lambda: any(x["state"] == "dead" for x in runs_of(srv, "echo")), 30,
               "the loop to be cut")
    time.sleep(0.5)  # nothing may follow the cut
    runs = runs_of(srv, "echo")
    states = sorted(x["state"] for x in runs)
    check_eq(states, ["dead"] + ["succeeded"] * (MAX_DEPTH + 1),
             "runs of the looping trigger")
    dead = [x for x in runs if x["state"] == "dead"][0]
    check("loop cut: causation depth %d exceeds max_depth %d" % (MAX_DEPTH + 1,
                                                                  MAX_DEPTH)
          in dead["error"], "dead run's reason: %r" % dead["error"])
    check_eq(dead["error"].count(" <- "), MAX_DEPTH + 1, "links of the chain: %r"
             % dead["error"])
    check(dead["error"].endswith("<- root"), "the chain ends at the outside "
          "event: %r" % dead["error"])
    dlq = srv.get_json("/api/dlq")["runs"]
    check_eq([x["id"] for x in dlq], [dead["id"]], "the cut run is in the DLQ")

    ev = srv.get_json("/api/events/" + dead["event_id"])
    ev = ev["events"][0] if "events" in ev else ev
    rouse_meta = ev.get("rouse", ev)
    check_eq(rouse_meta.get("depth"), MAX_DEPTH + 1, "depth of the last event: %r"
             % ev)
    check("cause" in rouse_meta, "the emitted event names its cause: %r" % ev)

    # --- ignore_self ---
    r = srv.post_events(cloudevent("demo.self", "it", "self-root"))
    check_eq(r.status, 202, "POST demo.self")
    wait_until(lambda: len(srv.get_json("/api/events?limit=1000")["events"])
               >= MAX_DEPTH + 4, 30, "the selfish run's own event")
    time.sleep(1.0)
    runs = runs_of(srv, "selfish")
    check_eq([x["state"] for x in runs], ["succeeded"],
             "ignore_self: only the outside event ran")

    # --- a forged token ---
    r = srv.request_headers("POST", "/api/events",
                            '{"specversion":"1.0","id":"x","source":"s","type":"t"}',
                            {"Rouse-Run-Token": "0000000000000001-echo.deadbeef"})
    check_eq(r.status, 401, "forged run token")
    srv.stop()
    return "loop cut at depth %d with its chain in the DLQ; ignore_self holds" % (
        MAX_DEPTH + 1)


if __name__ == "__main__":
    run_test("loop", main)
