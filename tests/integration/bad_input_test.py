#!/usr/bin/env python3
"""Malformed input: every bad POST /api/events gets its status and an error message
naming the problem, and the journal is unchanged afterwards (last_seq, the event
listing, no runs, also after a restart); a valid event still gets 202 afterwards."""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, cloudevent, parse_args,  # noqa: E402
                     run_id_for, run_test, wait_until)

MAX_BODY = 1024

TRIGGERS = """\
  any:
    on: { source: [bad-input] }
    run: { exec: ["{dir}/ok.sh"], timeout: 30s }
"""


def ev_json(**kw):
    return json.dumps(kw)


def body_of_size(size, id_):
    """A valid single event whose JSON text is exactly `size` bytes."""
    base = json.dumps(cloudevent("demo.size", "bad-input", id_, data=""))
    pad = size - len(base)
    assert pad >= 0
    body = json.dumps(cloudevent("demo.size", "bad-input", id_, data="x" * pad))
    assert len(body) == size, (len(body), size)
    return body


# (name, body, expected status, substrings the error message must contain)
CASES = [
    ("invalid JSON", '{"specversion": "1.0", "type": "demo.x", "source": ',
     400, ["invalid JSON"]),
    ("not JSON at all", "hello there", 400, ["invalid JSON"]),
    ("empty body", "", 400, []),
    ("missing type", ev_json(specversion="1.0", source="bad-input", id="m1"),
     400, ["missing", '"type"']),
    ("missing source", ev_json(specversion="1.0", type="demo.x", id="m2"),
     400, ["missing", '"source"']),
    ("empty type", ev_json(specversion="1.0", type="", source="bad-input", id="m3"),
     400, ['"type"']),
    ("specversion 0.3", ev_json(specversion="0.3", type="demo.x", source="bad-input",
                                id="m4"),
     400, ["specversion", "0.3"]),
    ("type not a string", ev_json(specversion="1.0", type=5, source="bad-input",
                                  id="m5"),
     400, ['"type"', "string"]),
    ("non-object array element",
     json.dumps([cloudevent("demo.x", "bad-input", "ok-in-bad-batch"), 5]),
     400, ["event[1]", "object"]),
    ("invalid event inside a batch",
     json.dumps([cloudevent("demo.x", "bad-input", "ok-in-bad-batch-2"),
                 {"specversion": "1.0", "source": "bad-input", "id": "m6"}]),
     400, ["event[1]", '"type"']),
    ("empty array", "[]", 400, ["empty batch"]),
    ("scalar body", "42", 400, ["object"]),
    ("bad extension name",
     ev_json(specversion="1.0", type="demo.x", source="bad-input", id="m7",
             Bad_Ext="v"),
     400, ["extension", "Bad_Ext"]),
    ("object extension value",
     json.dumps(dict(cloudevent("demo.x", "bad-input", "m8"), myext={"a": 1})),
     400, ["extension", "myext"]),
    ("data and data_base64",
     json.dumps(dict(cloudevent("demo.x", "bad-input", "m9", data=1),
                     data_base64="AAAA")),
     400, ["data_base64"]),
    ("over max_body by one byte", None, 413, ["exceeds", str(MAX_BODY)]),
    ("far over max_body",
     json.dumps(cloudevent("demo.x", "bad-input", "big", data="y" * 8000)),
     413, ["exceeds", str(MAX_BODY)]),
]


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, node_extra={"max_body": "1KiB"},
                      name="bad-input", keep=args.keep)
    srv.write_script("ok.sh", "#!/bin/sh\ncat >/dev/null\nexit 0\n")
    srv.start()

    # One good event first, so "unchanged" means something.
    r = srv.post_events(cloudevent("demo.first", "bad-input", "first"))
    check_eq(r.status, 202, "status of the first valid event %r" % r)
    first_seq = r.json["events"][0]["seq"]
    srv.wait_run_finished(run_id_for(first_seq, "any"))

    before_health = srv.healthz()
    before_events = srv.get("/api/events?after=0")
    check_eq(before_events.status, 200, "GET /api/events?after=0")
    before_runs = srv.runs()
    check_eq(before_health["last_seq"], first_seq, "last_seq after the first event")

    n400 = 0
    for name, body, status, needles in CASES:
        if body is None:
            body = body_of_size(MAX_BODY + 1, "one-too-many")
        r = srv.post_events(body)
        check(r.status == status,
              "%s: expected status %d, got %r" % (name, status, r))
        check(isinstance(r.json, dict) and isinstance(r.json.get("error"), str)
              and r.json["error"],
              "%s: answer has no JSON error message: %r" % (name, r))
        for needle in needles:
            check(needle in r.json["error"],
                  "%s: error message %r does not mention %r"
                  % (name, r.json["error"], needle))
        if status == 400:
            n400 += 1

    # Wrong method / unknown endpoint also answer with JSON errors.
    r = srv.request("PUT", "/api/events", "{}")
    check_eq(r.status, 405, "PUT /api/events status (%r)" % r)
    r = srv.request("POST", "/api/nope", "{}")
    check_eq(r.status, 404, "POST /api/nope status (%r)" % r)

    # The journal is unchanged.
    after_health = srv.healthz()
    check_eq(after_health["last_seq"], before_health["last_seq"],
             "healthz last_seq after the rejected requests")
    after_events = srv.get("/api/events?after=0")
    check_eq(after_events.json, before_events.json,
             "GET /api/events?after=0 after the rejected requests")
    for id_ in ("ok-in-bad-batch", "ok-in-bad-batch-2", "m1", "m4", "m7", "big",
                "one-too-many"):
        r = srv.get("/api/events/" + id_)
        check_eq(r.status, 404, "GET /api/events/%s (part of a rejected request)" % id_)
    check_eq(srv.runs(), before_runs, "runs after the rejected requests")

    metrics = srv.get("/metrics").text
    line = 'rouse_events_rejected_total{reason="malformed"} %d' % n400
    check(line in metrics.splitlines(),
          "/metrics lacks %r (one per 400 answer):\n%s"
          % (line, "\n".join(l for l in metrics.splitlines() if "rejected" in l)))

    # Still unchanged after a restart (nothing half-written).
    srv.restart()
    check_eq(srv.last_seq_at_start, before_health["last_seq"],
             "last seq printed on restart")
    check_eq(srv.get("/api/events?after=0").json, before_events.json,
             "GET /api/events?after=0 after restart")

    # A body of exactly max_body bytes is accepted; valid events still get 202.
    r = srv.post_events(body_of_size(MAX_BODY, "exactly-max"))
    check_eq(r.status, 202, "status of a body of exactly max_body bytes (%r)" % r)
    check_eq(r.json["events"][0]["seq"], first_seq + 1, "seq of the next valid event")
    r = srv.post_events(cloudevent("demo.after", "bad-input", "after"))
    check_eq(r.status, 202, "status of a valid event after the bad ones (%r)" % r)
    seq = r.json["events"][0]["seq"]
    check_eq(seq, first_seq + 2, "seq of the valid event after the bad ones")
    run = srv.wait_run_finished(run_id_for(seq, "any"))
    check_eq(run["state"], "succeeded", "state of the run of the valid event")
    wait_until(lambda: srv.healthz()["last_seq"] == seq, 10, "last_seq to advance")
    check_eq(srv.stop(), 0, "exit code after SIGTERM")
    return "%d malformed requests rejected (%d x 400, %d x 413), journal unchanged" % (
        len(CASES), n400, len(CASES) - n400)


if __name__ == "__main__":
    run_test("bad_input", main)
