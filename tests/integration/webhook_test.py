#!/usr/bin/env python3
"""Webhook sources on the real binary: for every scheme a correct signature is accepted
(202) and wrong, missing, tampered and stale ones are rejected (401) and store nothing; a
replayed GitHub delivery runs nothing new, also after a restart; a push also yields
git.push (source git, id from repo, ref, before and after); CloudEvents binary, structured and batch modes store the same event; rate
limits answer 429 with Retry-After; dedup keys come from headers."""

import base64
import hashlib
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, parse_args, run_id_for,  # noqa: E402
                     run_test, wait_until)
import webhook_sign  # noqa: E402

TRIGGERS = """\
  on-push:
    on: { type: [github.push] }
    run: { exec: ["{dir}/ok.sh"], timeout: 30s }
  on-git-push:
    on: { type: [git.push], data: { provider: [github] } }
    run: { exec: ["{dir}/ok.sh"], timeout: 30s }
"""

SW_SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-key-0123456789").decode()
SW_OTHER = "whsec_" + base64.b64encode(b"another-key-that-is-not-the-one").decode()

SOURCES = """\
sources:
  gh: {kind: webhook, path: /hooks/github, scheme: github,
       secrets: [file:secrets/old, file:secrets/gh]}
  fj: {kind: webhook, path: /hooks/forgejo, scheme: forgejo, secret: file:secrets/fj}
  gt: {kind: webhook, path: /hooks/gitea, scheme: gitea, secret: file:secrets/gt}
  gl: {kind: webhook, path: /hooks/gitlab, scheme: gitlab, secret: file:secrets/gl}
  st: {kind: webhook, path: /hooks/stripe, scheme: stripe, secret: file:secrets/st}
  sl: {kind: webhook, path: /hooks/slack, scheme: slack, secret: file:secrets/sl}
  sw: {kind: webhook, path: /hooks/std, scheme: standard-webhooks, secret: file:secrets/sw}
  hm: {kind: webhook, path: /hooks/hmac, scheme: hmac, secret: file:secrets/hm,
       header: X-Sig, algorithm: sha512, encoding: base64, prefix: "sha512="}
  tk: {kind: webhook, path: /hooks/token, scheme: token, secret: file:secrets/tk,
       header: X-Token}
  ce: {kind: webhook, path: /hooks/ce, scheme: none, format: cloudevents}
  lim: {kind: webhook, path: /hooks/limited, scheme: none, rate_limit: {limit: 2, per: 1h}}
  dk: {kind: webhook, path: /hooks/keyed, scheme: none, dedup_key: "{{header.X-Request-Id}}"}
"""

SECRETS = {"old": "old-github-secret", "gh": "github-secret", "fj": "forgejo-secret",
           "gt": "gitea-secret", "gl": "gitlab-token", "st": "whsec_stripe",
           "sl": "slack-signing", "sw": SW_SECRET, "hm": "hmac-secret",
           "tk": "a-token"}

OK = "#!/bin/sh\ncat > /dev/null\n"

PUSH = {"ref": "refs/heads/main", "before": "a" * 40, "after": "b" * 40,
        "repository": {"full_name": "octo/repo"}, "pusher": {"name": "octo"},
        "commits": [{"id": "b" * 40, "message": "fix", "url": "https://x/c",
                     "author": {"name": "O", "email": "o@x"}}]}

# scheme -> (path, source, secret name, signer kwargs, has timestamp)
SCHEMES = {
    "github": ("/hooks/github", "gh", "gh", {"event": "push"}, False),
    "forgejo": ("/hooks/forgejo", "fj", "fj", {"event": "push"}, False),
    "gitea": ("/hooks/gitea", "gt", "gt", {"event": "push"}, False),
    "gitlab": ("/hooks/gitlab", "gl", "gl", {"event": "Push Hook"}, False),
    "stripe": ("/hooks/stripe", "st", "st", {}, True),
    "slack": ("/hooks/slack", "sl", "sl", {}, True),
    "standard_webhooks": ("/hooks/std", "sw", "sw", {}, True),
    "hmac": ("/hooks/hmac", "hm", "hm",
             {"header": "X-Sig", "algorithm": "sha512", "encoding": "base64",
              "prefix": "sha512="}, False),
    "token": ("/hooks/token", "tk", "tk", {"header": "X-Token"}, False),
}


def post(srv, path, body, headers):
    return srv.request_headers("POST", path, body, headers)


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, node_extra={"shards": 1}, name="webhook",
                      keep=args.keep)
    with open(srv.config_path) as f:
        text = f.read()
    srv.write_config(text + SOURCES)
    os.makedirs(srv.path("secrets"))
    for name, value in SECRETS.items():
        with open(srv.path("secrets", name), "w") as f:
            f.write(value + "\n")
    srv.write_script("ok.sh", OK)
    srv.start()

    def last_seq():
        return srv.healthz()["last_seq"]

    # --- every scheme: accept the right signature, reject the rest ---
    n = 0
    for scheme, (path, source, secret_name, kw, timed) in SCHEMES.items():
        n += 1
        body = json.dumps({"id": "evt_%d" % n, "type": "thing.happened", "n": n}).encode()
        secret = SECRETS[secret_name]
        before = last_seq()
        rejected = []
        # wrong secret
        wrong = (SW_OTHER if scheme == "standard_webhooks" else secret + "x")
        rejected.append(("wrong secret", body,
                         webhook_sign.sign(scheme, wrong, body, **kw)))
        # missing headers
        rejected.append(("no headers", body, {}))
        # tampered body: signed for one body, another sent
        if scheme not in ("gitlab", "token"):
            rejected.append(("tampered body", body.replace(b'"n"', b'"m"'),
                             webhook_sign.sign(scheme, secret, body, **kw)))
        if timed:
            rejected.append(("stale timestamp", body,
                             webhook_sign.sign(scheme, secret, body,
                                               timestamp=1_000_000_000, **kw)))
        for what, b, headers in rejected:
            r = post(srv, path, b, headers)
            check_eq(r.status, 401, "%s: %s (%r)" % (scheme, what, r))
        check_eq(last_seq(), before, "%s: rejected requests stored nothing" % scheme)
        headers = webhook_sign.sign(scheme, secret, body, **kw)
        r = post(srv, path, body, headers)
        check_eq(r.status, 202, "%s: correct signature (%r)" % (scheme, r))
        ev_id = r.json["events"][0]["id"]
        stored = srv.get_json("/api/events/%s?source=%s" % (ev_id, source))
        check_eq(stored["data"]["n"], n, "%s: stored payload" % scheme)
    # rotation: the old GitHub secret still verifies
    body = json.dumps(PUSH | {"after": "c" * 40}).encode()
    r = post(srv, "/hooks/github", body,
             webhook_sign.github_headers(SECRETS["old"], body, event="push"))
    check_eq(r.status, 202, "github: a second active secret verifies")
    metrics = srv.get("/metrics").text
    check('rouse_webhook_rejected_total{source="gh",reason="bad_signature"}' in metrics,
          "rejections are counted by source and reason")

    # --- GitHub replay: same delivery runs nothing new, also after a restart ---
    body = json.dumps(PUSH).encode()
    headers = webhook_sign.github_headers(SECRETS["gh"], body, event="push",
                                          delivery="delivery-42")
    r = post(srv, "/hooks/github", body, headers)
    check_eq(r.status, 202, "first delivery %r" % r)
    items = r.json["events"]
    # git.push has source "git" and an id derived from (repo, ref, before, after),
    # the same id a local post-receive hook gives the same push.
    push_id = "push-" + hashlib.sha256("\n".join(
        ["octo/repo", "refs/heads/main", "a" * 40, "b" * 40]).encode()).hexdigest()[:32]
    check_eq([i["id"] for i in items], ["delivery-42", push_id],
             "provider event and normalized git.push")
    seq = items[0]["seq"]
    srv.wait_run_finished(run_id_for(seq, "on-push"))
    srv.wait_run_finished(run_id_for(items[1]["seq"], "on-git-push"))
    push = srv.get_json("/api/events/%s?source=git" % push_id)
    check_eq(push["type"], "git.push", "normalized type")
    check_eq(push["rouse"]["received_by"], "gh", "git.push received by the source")
    check_eq(push["data"]["repo"], "octo/repo", "git.push repo")
    check_eq(push["data"]["after"], "b" * 40, "git.push after")
    r = post(srv, "/hooks/github", body, headers)
    check_eq(r.status, 200, "replayed delivery is acknowledged as duplicate %r" % r)
    check(all(i["duplicate"] for i in r.json["events"]), "replay marked duplicate")
    srv.restart()
    r = post(srv, "/hooks/github", body, headers)
    check_eq(r.status, 200, "replay after restart %r" % r)
    runs = [x for x in srv.get_json("/api/runs?trigger=on-push&limit=1000")["runs"]
            if x["event_id"] == "delivery-42"]
    check_eq(len(runs), 1, "runs for the replayed delivery")

    # --- CloudEvents: binary, structured, batch store the same event ---
    data = {"k": [1, 2], "s": "x"}
    attrs = {"specversion": "1.0", "source": "ce-test", "type": "demo.ce",
             "subject": "sub", "time": "2026-11-21T10:00:00Z", "myext": "v1"}
    r = post(srv, "/hooks/ce", json.dumps(data).encode(),
             {"Content-Type": "application/json", "ce-specversion": "1.0",
              "ce-id": "bin-1", "ce-source": "ce-test", "ce-type": "demo.ce",
              "ce-subject": "sub", "ce-time": "2026-11-21T10:00:00Z", "ce-myext": "v1"})
    check_eq(r.status, 202, "binary mode %r" % r)
    structured = dict(attrs, id="str-1", datacontenttype="application/json", data=data)
    r = post(srv, "/hooks/ce", json.dumps(structured).encode(),
             {"Content-Type": "application/cloudevents+json"})
    check_eq(r.status, 202, "structured mode %r" % r)
    batch = [dict(attrs, id="bat-1", datacontenttype="application/json", data=data)]
    r = post(srv, "/hooks/ce", json.dumps(batch).encode(),
             {"Content-Type": "application/cloudevents-batch+json"})
    check_eq(r.status, 202, "batch mode %r" % r)
    r = post(srv, "/hooks/ce", json.dumps(structured).encode(),
             {"Content-Type": "application/cloudevents-batch+json"})
    check_eq(r.status, 400, "batch mode needs an array")
    r = post(srv, "/hooks/ce", b"{}", {"Content-Type": "application/json"})
    check_eq(r.status, 400, "binary mode without ce-* headers")

    def comparable(ev):
        ev = dict(ev)
        for k in ("id", "rouse"):
            ev.pop(k, None)
        return ev
    stored = [srv.get_json("/api/events/%s?source=ce-test" % i)
              for i in ("bin-1", "str-1", "bat-1")]
    check_eq(comparable(stored[1]), comparable(stored[0]), "structured == binary")
    check_eq(comparable(stored[2]), comparable(stored[0]), "batch == binary")
    check_eq(stored[0]["myext"], "v1", "extension from a ce- header")

    # --- rate limit ---
    for i in range(2):
        r = post(srv, "/hooks/limited", b'{"i": %d}' % i, {})
        check_eq(r.status, 202, "request %d within the rate limit" % i)
    r = post(srv, "/hooks/limited", b'{"i": 3}', {})
    check_eq(r.status, 429, "over the rate limit")
    check(r.headers.get("Retry-After") == "3600", "Retry-After %r" % r.headers)

    # --- dedup key from a header ---
    r = post(srv, "/hooks/keyed", b'{"a": 1}', {"X-Request-Id": "req-7"})
    check_eq(r.status, 202, "keyed first")
    r = post(srv, "/hooks/keyed", b'{"a": 2}', {"X-Request-Id": "req-7"})
    check_eq(r.status, 200, "keyed duplicate")
    check_eq(srv.get_json("/api/events/req-7?source=dk")["type"], "dk.received",
             "json format type")

    # --- bad input ---
    before = last_seq()
    r = srv.request_headers("GET", "/hooks/keyed", None, {})
    check_eq(r.status, 405, "GET on a webhook path")
    r = post(srv, "/hooks/keyed", b"not json", {"X-Request-Id": "req-8"})
    check_eq(r.status, 400, "a body that is not JSON")
    check_eq(last_seq(), before, "bad requests stored nothing")
    return "webhook: %d schemes, replay, CloudEvents modes, rate limit, dedup key ok" % n


if __name__ == "__main__":
    run_test("webhook", main)
