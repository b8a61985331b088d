#!/usr/bin/env python3
"""Trigger management: triggers added, changed, disabled and removed through the API
(and `rouse triggers`) take effect for the next event and survive restarts (SIGTERM and
SIGKILL); an invalid pattern gets 400 with its path and changes nothing; config triggers
are read-only; `{{...}}` templates fill argv and env without a shell; `rouse explain` and
GET /api/events/{id}/explain show the failing field or the run."""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_id_for, run_test)

TRIGGERS = """\
  fixed:
    on: { type: [demo.fixed] }
    run: { exec: ["{dir}/echo.sh", "fixed"], timeout: 30s }
"""

ECHO = """#!/bin/sh
for a in "$@"; do echo "arg=$a"; done
echo "title=$PR_TITLE"
echo "missing=[$MISSING]"
"""


def names(srv):
    return sorted(t["name"] for t in srv.get_json("/api/triggers")["triggers"])


def send(srv, type_, id_, data=None, subject=None):
    extra = {"subject": subject} if subject else {}
    r = srv.post_events(cloudevent(type_, "it", id_, data=data, **extra))
    check(r.status == 202, "POST event %s: %r" % (id_, r))
    return r.json["events"][0]["seq"]


def settle(srv, marker_id):
    """Sends an event that runs `fixed` and waits for that run: with one shard every
    earlier event has been routed by then."""
    seq = send(srv, "demo.fixed", marker_id)
    run = srv.wait_run_finished(run_id_for(seq, "fixed"))
    check_eq(run["state"], "succeeded", "marker run %s" % marker_id)


def runs_of(srv, seq):
    return [r["trigger"] for r in srv.get_json("/api/runs?limit=1000")["runs"]
            if r["event_seq"] == seq]


DYN = {
    "name": "dyn",
    "on": {"type": ["demo.dyn"], "data": {"size": [{"numeric": [">", 10]}]}},
    "run": {"exec": ["{dir}/echo.sh", "pr={{data.pr.number}}", "{{subject}}",
                     "{{data.nope}}"],
            "env": {"PR_TITLE": "{{data.pr.title}}", "MISSING": "{{data.none}}"},
            "timeout": "30s"},
}


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, node_extra={"shards": 1}, name="triggers",
                      keep=args.keep)
    srv.write_script("echo.sh", ECHO)
    srv.start()
    dyn = json.loads(json.dumps(DYN).replace("{dir}", srv.dir))

    listed = srv.get_json("/api/triggers")["triggers"]
    check_eq([(t["name"], t["origin"]) for t in listed], [("fixed", "config")],
             "triggers at start")

    # --- an invalid pattern: 400 with the path, nothing changes ---
    bad = dict(dyn, on={"type": ["demo.dyn"], "data": {"size": [{"numeric": [">"]}]}})
    r = srv.request("POST", "/api/triggers", json.dumps(bad))
    check_eq(r.status, 400, "status for an invalid pattern %r" % r)
    check(r.json["error"].startswith("on.data.size: numeric"),
          "error names the path: %r" % r.json)
    r = srv.request("POST", "/api/triggers", "{not json")
    check_eq(r.status, 400, "status for a body that is not JSON")
    r = srv.request("POST", "/api/triggers",
                    json.dumps(dict(dyn, run={"exec": ["a", "{{data.x"]})))
    check_eq(r.status, 400, "status for an unclosed template")
    check(r.json["error"].startswith("run.exec[1]: unclosed"), "template error %r" % r.json)
    check_eq(names(srv), ["fixed"], "triggers after rejected changes")

    # --- config triggers are read-only ---
    r = srv.request("DELETE", "/api/triggers/fixed")
    check_eq(r.status, 409, "DELETE of a config trigger")
    r = srv.request("PUT", "/api/triggers/fixed", json.dumps(dict(dyn, name="fixed")))
    check_eq(r.status, 409, "PUT over a config trigger")
    r = srv.request("POST", "/api/triggers/fixed/disable")
    check_eq(r.status, 409, "disable of a config trigger")

    # --- add: the next event runs it, with templates rendered ---
    r = srv.request("POST", "/api/triggers", json.dumps(dyn))
    check_eq(r.status, 201, "POST /api/triggers %r" % r)
    check_eq(r.json["origin"], "api", "origin of the new trigger")
    r = srv.request("POST", "/api/triggers", json.dumps(dyn))
    check_eq(r.status, 409, "POST of an existing name")
    title = "it's $(rm -rf /); `x` \"q\""
    seq = send(srv, "demo.dyn", "big", {"size": 11, "pr": {"number": 42, "title": title}},
               subject="sub ject")
    run = srv.wait_run_finished(run_id_for(seq, "dyn"))
    check_eq(run["state"], "succeeded", "run of the added trigger %r" % run)
    lines = run["stdout"].splitlines()
    check_eq(lines, ["arg=pr=42", "arg=sub ject", "arg=", "title=" + title, "missing=[]"],
             "argv and env rendered from the event, no shell")
    check("data.nope" in srv.stderr_text(), "a missing template path is logged")

    small = send(srv, "demo.dyn", "small", {"size": 5})
    settle(srv, "m1")
    check_eq(runs_of(srv, small), [], "runs for an event the pattern rejects")

    # --- explain ---
    x = srv.get_json("/api/events/small/explain")["events"][0]
    by = {t["trigger"]: t for t in x["triggers"]}
    check_eq(by["dyn"]["matched"], False, "explain: dyn did not match 'small'")
    check(by["dyn"]["reason"].startswith("data.size: 5"), "explain reason %r" % by["dyn"])
    check(by["fixed"]["reason"].startswith("type: \"demo.dyn\""), "fixed reason %r" % by)
    x = srv.get_json("/api/events/big/explain")["events"][0]
    by = {t["trigger"]: t for t in x["triggers"]}
    check_eq(by["dyn"]["matched"], True, "explain: dyn matched 'big'")
    check_eq(by["dyn"]["run"]["id"], run_id_for(seq, "dyn"), "explain names the run")
    check_eq(by["dyn"]["run"]["state"], "succeeded", "explain gives the run's state")
    out = srv.cli("explain", "small")
    check("dyn" in out and "no match" in out and "data.size: 5" in out,
          "rouse explain output:\n" + out)
    out = srv.cli("explain", "big")
    check(run_id_for(seq, "dyn") in out and "matched" in out, "rouse explain (match):\n" + out)
    srv.cli("explain", "no-such-event", expect=2)
    r = srv.get("/api/events/no-such-event/explain")
    check_eq(r.status, 404, "explain of an unknown event")

    # --- change: the new pattern applies to the next event ---
    changed = dict(dyn, on={"type": ["demo.dyn2"]})
    r = srv.request("PUT", "/api/triggers/dyn", json.dumps(changed))
    check_eq(r.status, 200, "PUT /api/triggers/dyn %r" % r)
    old = send(srv, "demo.dyn", "old-type", {"size": 99})
    new = send(srv, "demo.dyn2", "new-type", {"size": 1})
    srv.wait_run_finished(run_id_for(new, "dyn"))
    settle(srv, "m2")
    check_eq(runs_of(srv, old), [], "runs for the old pattern after PUT")

    # --- disable / enable through the CLI ---
    out = srv.cli("triggers", "disable", "dyn")
    check("disabled trigger dyn" in out, "disable output %r" % out)
    off = send(srv, "demo.dyn2", "while-off")
    settle(srv, "m3")
    check_eq(runs_of(srv, off), [], "runs of a disabled trigger")
    x = srv.get_json("/api/events/while-off/explain")["events"][0]
    by = {t["trigger"]: t for t in x["triggers"]}
    check_eq(by["dyn"]["reason"], "the trigger is disabled", "explain of a disabled match")
    srv.cli("triggers", "enable", "dyn")
    on = send(srv, "demo.dyn2", "while-on")
    srv.wait_run_finished(run_id_for(on, "dyn"))
    out = srv.cli("triggers", "ls")
    check("dyn" in out and "api" in out and "fixed" in out and "config" in out,
          "triggers ls output:\n" + out)

    # --- survives a clean restart and a SIGKILL ---
    srv.restart()
    t = srv.get_json("/api/triggers/dyn")
    check_eq(t["on"], {"type": ["demo.dyn2"]}, "pattern of dyn after restart")
    check_eq(t["enabled"], True, "dyn enabled after restart")
    after = send(srv, "demo.dyn2", "after-restart")
    srv.wait_run_finished(run_id_for(after, "dyn"))
    srv.kill9()
    srv.start()
    check_eq(names(srv), ["dyn", "fixed"], "triggers after SIGKILL")

    # --- add through the CLI from a file, then remove ---
    path = srv.path("cli-trigger.json")
    with open(path, "w") as f:
        json.dump(dict(dyn, name="from-cli", on={"type": ["demo.cli"]}), f)
    out = srv.cli("triggers", "add", path)
    check("added trigger from-cli" in out, "add output %r" % out)
    srv.cli("triggers", "add", path, expect=1)  # 409: exists
    out = srv.cli("triggers", "add", "--replace", path)
    check("replaced trigger from-cli" in out, "add --replace output %r" % out)
    via_cli = send(srv, "demo.cli", "via-cli")
    srv.wait_run_finished(run_id_for(via_cli, "from-cli"))
    srv.cli("triggers", "rm", "from-cli")
    r = srv.request("DELETE", "/api/triggers/dyn")
    check_eq(r.status, 200, "DELETE /api/triggers/dyn")
    r = srv.request("DELETE", "/api/triggers/dyn")
    check_eq(r.status, 404, "DELETE of a removed trigger")
    gone = send(srv, "demo.dyn2", "after-delete")
    settle(srv, "m4")
    check_eq(runs_of(srv, gone), [], "runs of a removed trigger")
    srv.restart()
    check_eq(names(srv), ["fixed"], "triggers after delete and restart")
    return "triggers: add/change/disable/remove, restarts, templates and explain ok"


if __name__ == "__main__":
    run_test("triggers", main)
