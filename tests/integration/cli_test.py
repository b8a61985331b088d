#!/usr/bin/env python3
"""The rouse CLI: `check` on good and bad configs (and `serve` on a bad one), `emit`
(stored / duplicate / --json / --data @file / bad data / closed port / missing
--type), `runs` (table, --json, one run with its stdout, unknown run, bad state),
`--help`, `--version`, no subcommand."""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, free_closed_port,  # noqa: E402
                     parse_args, run_id_for, run_test)

CLI_TIMEOUT = 30  # seconds per CLI invocation

TRIGGERS = """\
  clitrig:
    on: { type: [demo.cli] }
    run: { exec: ["{dir}/echo.sh"], timeout: 30s }
"""

ECHO = """#!/bin/sh
payload=$(cat)
echo "handler-output event=$ROUSE_EVENT_ID"
echo "payload=$payload"
echo "to-stderr" >&2
"""

# Errors on lines 3, 7 and 8 (1-based).
BAD_CONFIG = """\
node:
  listen: 127.0.0.1:0
  shards: 0
triggers:
  a:
    on: { type: [x] }
    run: { exec: [./h.sh], timeout: 5x }
  b:
    run: { exec: [./h.sh] }
"""


class Cli:
    def __init__(self, rouse, cwd):
        self.rouse = rouse
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("ROUSE_API", "ROUSE_TOKEN")}

    def __call__(self, *argv, env=None):
        e = dict(self.env)
        e.update(env or {})
        try:
            p = subprocess.run([self.rouse] + list(argv), cwd=self.cwd, env=e,
                               stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            check(False, "`rouse %s` did not finish within %ds"
                  % (" ".join(argv), CLI_TIMEOUT))
        return p


def expect(p, rc, what):
    check(p.returncode == rc,
          "%s: expected exit %d, got %d\n  argv: %s\n  stdout: %r\n  stderr: %r"
          % (what, rc, p.returncode, p.args, p.stdout, p.stderr))
    return p


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, name="cli", keep=args.keep)
    srv.write_script("echo.sh", ECHO)
    cli = Cli(args.rouse, srv.dir)
    n = 0

    # --- help / version / usage ---
    p = expect(cli("--help"), 0, "rouse --help")
    for word in ("serve", "check", "emit", "runs"):
        check(word in p.stdout, "`rouse --help` does not list %r: %r" % (word, p.stdout))
    p = expect(cli("--version"), 0, "rouse --version")
    check("rouse" in p.stdout, "--version output: %r" % p.stdout)
    expect(cli(), 2, "rouse without a subcommand")
    p = expect(cli("emit"), 2, "rouse emit without --type")
    check("--type" in p.stderr, "emit without --type does not name --type: %r"
          % p.stderr)
    expect(cli("frobnicate"), 2, "unknown subcommand")
    n += 5

    # --- check ---
    p = expect(cli("check", "-c", srv.config_path), 0, "rouse check on a good config")
    check("ok" in p.stdout and "1 trigger(s)" in p.stdout,
          "`rouse check` output on a good config: %r" % p.stdout)
    bad = srv.path("bad.yaml")
    with open(bad, "w") as f:
        f.write(BAD_CONFIG)
    p = expect(cli("check", "-c", bad), 2, "rouse check on a bad config")
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    for line_no, key in ((3, "node.shards"), (7, "triggers.a.run.timeout"),
                         (8, "triggers.b")):
        prefix = "%s:%d:" % (bad, line_no)
        check(any(l.startswith(prefix) and key in l for l in lines),
              "`rouse check` stderr lacks a diagnostic %s...%s: %r"
              % (prefix, key, p.stderr))
    check_eq(len(lines), 3, "number of diagnostics for the bad config (%r)" % p.stderr)
    p = expect(cli("check", "-c", srv.path("missing.yaml")), 2,
               "rouse check on a missing file")
    check("missing.yaml" in p.stderr, "no file name for a missing config: %r" % p.stderr)
    p = expect(cli("serve", "-c", bad), 2, "rouse serve on a bad config")
    check(any(l.startswith("%s:7:" % bad) for l in p.stderr.splitlines()),
          "`rouse serve` on a bad config: no file:line diagnostic: %r" % p.stderr)
    n += 4

    # --- emit against a running server ---
    srv.start()
    url = srv.url
    p = expect(cli("emit", "--server", url, "--type", "demo.cli", "--source", "cli-test",
                   "--id", "cli-1", "--data", '{"name":"Ada"}'), 0, "rouse emit")
    check_eq(p.stdout.strip(), "stored event cli-1 (seq 1)", "rouse emit output")
    p = expect(cli("emit", "--server", url, "--type", "demo.cli", "--source", "cli-test",
                   "--id", "cli-1", "--data", '{"name":"Ada"}'), 0,
               "rouse emit of a duplicate")
    check_eq(p.stdout.strip(), "duplicate of event cli-1 (seq 1)",
             "rouse emit output for a duplicate")
    stored = srv.get_json("/api/events/cli-1")
    check_eq((stored["source"], stored["type"], stored["data"]),
             ("cli-test", "demo.cli", {"name": "Ada"}), "the event stored by emit")

    # --json, --data @file, default source, ROUSE_API instead of --server
    data_file = srv.path("data.json")
    with open(data_file, "w") as f:
        json.dump({"from": "file", "n": [1, 2, 3]}, f)
    p = expect(cli("emit", "--type", "demo.cli", "--id", "cli-2", "--data",
                   "@" + data_file, "--json", env={"ROUSE_API": url}), 0,
               "rouse emit --json --data @file with ROUSE_API")
    answer = json.loads(p.stdout)
    check_eq(answer, {"events": [{"id": "cli-2", "seq": 2, "duplicate": False}]},
             "rouse emit --json output")
    stored = srv.get_json("/api/events/cli-2")
    check_eq((stored["source"], stored["data"]), ("cli", {"from": "file", "n": [1, 2, 3]}),
             "source and data of the event emitted with --data @file")
    # Without --id: a generated id.
    p = expect(cli("emit", "--server", url, "--type", "demo.other"), 0,
               "rouse emit without --id")
    check(p.stdout.startswith("stored event ") and p.stdout.strip().endswith("(seq 3)"),
          "rouse emit without --id output: %r" % p.stdout)
    gen_id = p.stdout.split()[2]
    check_eq(srv.get("/api/events/" + gen_id).status, 200,
             "GET of the event with the generated id %s" % gen_id)

    # Bad --data: nothing is sent.
    p = expect(cli("emit", "--server", url, "--type", "demo.cli", "--data", "{nope"),
               2, "rouse emit with invalid --data")
    check("not valid JSON" in p.stderr, "invalid --data message: %r" % p.stderr)
    p = expect(cli("emit", "--server", url, "--type", "demo.cli", "--data",
                   "@" + srv.path("no-such-file.json")), 2,
               "rouse emit --data @missing-file")
    check("no-such-file.json" in p.stderr, "missing @file message: %r" % p.stderr)
    check_eq(srv.healthz()["last_seq"], 3, "last_seq after the rejected emits")
    n += 7

    # --- runs ---
    run_id = run_id_for(1, "clitrig")
    run = srv.wait_run_finished(run_id)
    check_eq(run["state"], "succeeded", "state of %s" % run_id)
    srv.wait_run_finished(run_id_for(2, "clitrig"))
    p = expect(cli("runs", "--server", url, "--json"), 0, "rouse runs --json")
    listed = json.loads(p.stdout)
    by_id = {r["id"]: r for r in listed["runs"]}
    check(run_id in by_id, "rouse runs --json lacks %s: %r" % (run_id, p.stdout))
    check_eq((by_id[run_id]["state"], by_id[run_id]["event_id"],
              by_id[run_id]["trigger"]), ("succeeded", "cli-1", "clitrig"),
             "run %s in rouse runs --json" % run_id)
    check_eq(sorted(by_id), sorted([run_id, run_id_for(2, "clitrig")]),
             "runs listed by rouse runs --json (demo.other matches no trigger)")
    p = expect(cli("runs", "--server", url), 0, "rouse runs")
    rows = [l for l in p.stdout.splitlines() if l.startswith(run_id)]
    check(len(rows) == 1 and "clitrig" in rows[0] and "succeeded" in rows[0],
          "rouse runs table row for %s: %r" % (run_id, p.stdout))
    p = expect(cli("runs", "--server", url, "--state", "failed", "--json"), 0,
               "rouse runs --state failed --json")
    check_eq(json.loads(p.stdout)["runs"], [], "failed runs")
    p = expect(cli("runs", "--server", url, "--trigger", "clitrig", "--limit", "1",
                   "--json"), 0, "rouse runs --trigger --limit 1")
    check_eq(len(json.loads(p.stdout)["runs"]), 1, "runs listed with --limit 1")
    p = expect(cli("runs", run_id, "--server", url), 0, "rouse runs RUN_ID")
    check("handler-output event=cli-1" in p.stdout,
          "rouse runs RUN_ID does not show the run's stdout: %r" % p.stdout)
    check('payload={"specversion":"1.0","id":"cli-1"' in p.stdout,
          "rouse runs RUN_ID: the handler's stdin echo is missing: %r" % p.stdout)
    check("to-stderr" in p.stdout, "rouse runs RUN_ID does not show stderr: %r"
          % p.stdout)
    check(any(l.split() == ["state", "succeeded"] for l in p.stdout.splitlines()),
          "rouse runs RUN_ID: no 'state succeeded' line: %r" % p.stdout)
    p = expect(cli("runs", run_id, "--server", url, "--json"), 0,
               "rouse runs RUN_ID --json")
    check_eq(json.loads(p.stdout)["stdout"], run["stdout"], "stdout in runs RUN_ID --json")
    p = expect(cli("runs", "0000000000000099-clitrig", "--server", url), 2,
               "rouse runs with an unknown run id")
    check("404" in p.stderr and "no run" in p.stderr,
          "unknown run id message: %r" % p.stderr)
    p = expect(cli("runs", "--server", url, "--state", "bogus"), 2,
               "rouse runs --state bogus")
    check("bogus" in p.stderr, "bad state message: %r" % p.stderr)
    n += 8

    # --- unreachable server ---
    closed = "http://127.0.0.1:%d" % free_closed_port()
    p = expect(cli("emit", "--server", closed, "--type", "demo.cli"), 1,
               "rouse emit to a closed port")
    check("rouse serve" in p.stderr and "127.0.0.1" in p.stderr,
          "emit to a closed port: message %r" % p.stderr)
    p = expect(cli("runs", "--server", closed), 1, "rouse runs against a closed port")
    check(p.stderr.strip() != "", "runs against a closed port printed no message")
    p = expect(cli("emit", "--server", "https://127.0.0.1:1", "--type", "x"), 2,
               "rouse emit with an https:// URL")
    check("http://" in p.stderr, "https URL message: %r" % p.stderr)
    n += 3

    check_eq(srv.healthz()["last_seq"], 3, "final last_seq")
    check_eq(srv.stop(), 0, "exit code after SIGTERM")
    return "%d CLI checks" % n


if __name__ == "__main__":
    run_test("cli", main)
