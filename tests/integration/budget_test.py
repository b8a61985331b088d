#!/usr/bin/env python3
"""Budgets with the real binary: runs and cost per window, held runs, resume, restart.

- `counted` has `budget: {runs: 2, per: 1d}`: of 3 events, 2 runs succeed and the third
  stays `pending`; a trigger on rouse.budget.exceeded runs once and its event names
  the trigger; GET /api/triggers/counted/budget and `rouse triggers budget` show 2 runs
  spent;
- after kill -9 and a restart, what was spent is still spent: the held run and a new
  one stay pending;
- `rouse triggers resume counted` starts the budget over: both run (and spend it
  again, told once more);
- `costly` has `budget: {cost: 1.0, per: 1d, key: "{{data.team}}"}` and concurrency 1;
  handlers report cost through $ROUSE_CONTROL: team a's runs of 0.6 each spend the
  budget after two (1.2), its third run waits, team b's run does not; the run records
  carry their cost; `rouse triggers resume costly --key a` frees team a only;
- the API rejects a budget without runs or cost, and resume of a trigger without a
  budget is 409."""

import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, json_lines,  # noqa: E402
                     parse_args, run_id_for, run_test, wait_until)

TRIGGERS = """\
  counted:
    on: { type: [demo.counted] }
    run: { exec: ["{dir}/save.sh", "{dir}/counted.log", "0"], timeout: 30s }
    budget: { runs: 2, per: 1d }
  costly:
    on: { type: [demo.costly] }
    run: { exec: ["{dir}/save.sh", "{dir}/costly.log", "{{data.cost}}"], timeout: 30s }
    concurrency: 1
    budget: { cost: 1.0, per: 1d, key: "{{data.team}}" }
  plain:
    on: { type: [demo.plain] }
    run: { exec: ["{dir}/save.sh", "{dir}/plain.log", "0"], timeout: 30s }
  alarm:
    on: { type: [rouse.budget.exceeded] }
    run: { exec: ["{dir}/save.sh", "{dir}/alarm.log", "0"], timeout: 30s }
"""

# save.sh LOG COST: appends stdin (the event) as one line, in one write so that
# concurrent runs do not interleave, and reports COST.
SAVE = """#!/bin/sh
line=$(tr -d '\\n')
printf '%s\\n' "$line" >> "$1"
if [ "$2" != "0" ]; then printf '{"cost": %s}' "$2" > "$ROUSE_CONTROL"; fi
exit 0
"""

# How long a held run is watched to see that it stays held.
HOLD = 1.5


def lines(srv, name):
    return json_lines(srv.path(name))


def post(srv, type_, id_, data=None):
    r = srv.post_events(cloudevent(type_, id_=id_, data=data or {}))
    check(r.status == 202, "event %s accepted: %r" % (id_, r))
    return r.json["events"][0]["seq"]


def stays_pending(srv, run_ids):
    time.sleep(HOLD)
    got = {i: srv.run(i)["state"] for i in run_ids}
    check_eq(got, {i: "pending" for i in run_ids}, "held runs stay pending")


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="budget", keep=args.keep)
    srv.write_script("save.sh", SAVE)
    srv.start()

    # --- a run budget holds the third run ---
    seqs = [post(srv, "demo.counted", "c-%d" % i) for i in range(3)]
    runs = [run_id_for(s, "counted") for s in seqs]
    for r in runs[:2]:
        check_eq(srv.wait_run_finished(r)["state"], "succeeded", "run %s" % r)
    alarm = wait_until(lambda: lines(srv, "alarm.log"), 30, "rouse.budget.exceeded")
    check_eq((alarm[0]["type"], alarm[0]["subject"]),
             ("rouse.budget.exceeded", "counted"), "the budget event")
    check("2 of 2 runs" in alarm[0]["data"]["note"], "note: %r" % alarm[0]["data"])
    stays_pending(srv, runs[2:])
    spent = srv.get_json("/api/triggers/counted/budget")
    check_eq([(k["key"], k["runs"], k["spent"]) for k in spent["keys"]],
             [("", 2, True)], "what the budget spent")
    check_eq(spent["budget"], {"runs": 2, "per": "1d"}, "the budget")
    out = srv.cli("triggers", "budget", "counted")
    check("yes" in out and " 2 " in out, "rouse triggers budget: %r" % out)

    # --- spent stays spent across kill -9 ---
    srv.kill9()
    srv.start()
    seqs.append(post(srv, "demo.counted", "c-3"))
    runs.append(run_id_for(seqs[-1], "counted"))
    stays_pending(srv, runs[2:])
    check_eq(len(lines(srv, "counted.log")), 2, "runs of counted after the restart")

    # --- resume ---
    out = srv.cli("triggers", "resume", "counted")
    check("resumed trigger counted" in out, "rouse triggers resume: %r" % out)
    for r in runs[2:]:
        check_eq(srv.wait_run_finished(r)["state"], "succeeded", "resumed run %s" % r)
    wait_until(lambda: len(lines(srv, "alarm.log")) >= 2, 30,
               "the budget spent again after the resume")
    check_eq(len(lines(srv, "counted.log")), 4, "each counted run ran once")

    # --- a cost budget per key ---
    a = [run_id_for(post(srv, "demo.costly", "a-%d" % i, {"team": "a", "cost": 0.6}),
                    "costly") for i in range(3)]
    for r in a[:2]:
        got = srv.wait_run_finished(r)
        check_eq((got["state"], got.get("cost")), ("succeeded", 0.6), "run %s" % r)
    b = run_id_for(post(srv, "demo.costly", "b-0", {"team": "b", "cost": 0.1}), "costly")
    check_eq(srv.wait_run_finished(b)["state"], "succeeded", "team b is not held")
    stays_pending(srv, a[2:])
    spent = {k["key"]: k for k in srv.get_json("/api/triggers/costly/budget")["keys"]}
    check(abs(spent["a"]["cost"] - 1.2) < 1e-9 and spent["a"]["spent"],
          "team a spent 1.2: %r" % spent)
    check(not spent["b"]["spent"], "team b has budget left: %r" % spent)
    told = [e for e in lines(srv, "alarm.log") if e["subject"] == "costly"]
    check_eq([e["data"].get("key") for e in told], ["a"], "the cost budget event's key")
    srv.cli("triggers", "resume", "costly", "--key", "a")
    check_eq(srv.wait_run_finished(a[2])["state"], "succeeded", "team a after resume")

    # --- bad input ---
    r = srv.request("POST", "/api/triggers", json.dumps({
        "name": "nobudget", "on": {"type": ["x"]}, "run": {"exec": ["/bin/true"]},
        "budget": {"per": "1d"}}))
    check(r.status == 400 and "budget.runs" in r.text, "budget without limits: %r" % r)
    r = srv.request("POST", "/api/triggers/plain/resume")
    check(r.status == 409 and "no budget" in r.text, "resume without budget: %r" % r)
    r = srv.request("POST", "/api/triggers/nosuch/resume")
    check_eq(r.status, 404, "resume of an unknown trigger")
    r = srv.request("POST", "/api/triggers/counted/resume", "{\"nokey\": 1}")
    check_eq(r.status, 400, "resume with a bad body")
    srv.stop()
    return "budgets: runs and cost per window, held across kill -9, resume"


if __name__ == "__main__":
    run_test("budget", main)
