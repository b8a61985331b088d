#!/usr/bin/env python3
"""Local git hooks as a source, with real `git`: `rouse git install-hooks` in a work
tree (keeping a foreign post-commit hook, which still runs) and in a bare repository;
a commit, a checkout, an amend, a merge and pushes each store the documented event
(docs/events.md, "Local git hooks") and run a trigger; a GitHub webhook for the same
push is a duplicate of the local one; ref updates outside a push are reported by
reference-transaction, git pack-refs is not; an unreachable server never fails git;
reinstalling is idempotent and --uninstall restores the foreign hook."""

import hashlib
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (RouseServer, check, check_eq, free_closed_port,  # noqa: E402
                     parse_args, run_id_for, run_test)
import webhook_sign  # noqa: E402

TRIGGERS = """\
  on-commit:
    on: { source: [git], type: [git.commit] }
    run: { exec: ["{dir}/show.sh", "{{data.sha}}", "{{data.message}}"], timeout: 30s }
  on-merge:
    on: { source: [git], type: [git.merge] }
    run: { exec: ["{dir}/show.sh", "{{data.sha}}", "{{data.ref}}"], timeout: 30s }
  on-push:
    on: { source: [git], type: [git.push], data: { provider: [local] } }
    run: { exec: ["{dir}/show.sh", "{{data.after}}", "{{data.repo}}"], timeout: 30s }
  on-forge-push:
    on: { type: [github.push] }
    run: { exec: ["{dir}/show.sh", "{{data.after}}"], timeout: 30s }
"""

SOURCES = """\
sources:
  gh: {kind: webhook, path: /hooks/github, scheme: github, secret: file:gh-secret}
"""

SECRET = "github-secret"

SHOW = "#!/bin/sh\ncat > /dev/null\necho \"$@\"\n"

ZEROS = "0" * 40

GIT_TIMEOUT = 60  # seconds per git or rouse command
HOOK_MARGIN = 15  # seconds a command with an unreachable server may take at most


def hashed(prefix, *parts):
    """rouse's hashed_event_id (runtime/webhook/normalize.hpp)."""
    return prefix + "-" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def push_id(repo, ref, before, after):
    return hashed("push", repo, ref, before, after)


def main():
    args = parse_args(__doc__)
    srv = RouseServer(args.rouse, TRIGGERS, node_extra={"shards": 1}, name="git-hooks",
                      keep=args.keep)
    with open(srv.config_path) as f:
        text = f.read()
    srv.write_config(text + SOURCES)
    with open(srv.path("gh-secret"), "w") as f:
        f.write(SECRET + "\n")
    srv.write_script("show.sh", SHOW)
    srv.start()

    work = srv.path("git")
    home = srv.path("home")
    os.makedirs(work)
    os.makedirs(home)
    # git and the hooks see only this environment: no user or system config (a
    # global core.hooksPath would move the hooks), a fixed pusher, no rouse server
    # from the caller's environment.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "ROUSE_"))
           and k not in ("GL_USER", "REMOTE_USER", "LOGNAME")}
    env.update(HOME=home, USER="it-pusher", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")

    def run(argv, cwd=None, expect=0):
        started = time.monotonic()
        r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                           timeout=GIT_TIMEOUT, stdin=subprocess.DEVNULL)
        r.elapsed = time.monotonic() - started
        check(r.returncode == expect,
              "%s: exit %d (expected %d)\nstdout: %s\nstderr: %s"
              % (" ".join(argv), r.returncode, expect, r.stdout, r.stderr))
        return r

    def git(*argv, cwd=None):
        return run(["git", *argv], cwd=cwd).stdout.strip()

    def rouse(*argv, expect=0):
        return run([args.rouse, *argv], expect=expect).stdout

    def event(id_):
        return srv.get_json("/api/events/%s?source=git" % id_)

    def events_after(seq):
        return srv.get_json("/api/events?after=%d&limit=1000" % seq)["events"]

    def ran(ev, trigger, expect_stdout):
        run_ = srv.wait_run_finished(run_id_for(ev["rouse"]["seq"], trigger))
        check_eq(run_["state"], "succeeded", "run of %s" % trigger)
        check(expect_stdout in run_["stdout"],
              "%s run got the event: %r in %r" % (trigger, expect_stdout, run_["stdout"]))

    bare = os.path.join(work, "octo-repo.git")
    clone = os.path.join(work, "clone")
    git("init", "-q", "--bare", "-b", "main", bare)
    git("init", "-q", "-b", "main", clone)
    git("config", "user.name", "Ada Lovelace", cwd=clone)
    git("config", "user.email", "ada@example.com", cwd=clone)
    git("remote", "add", "origin", bare, cwd=clone)

    # --- install: a foreign post-commit hook is kept and chained ---
    hooks = os.path.join(clone, ".git", "hooks")
    marker = os.path.join(work, "foreign.log")
    foreign = "#!/bin/sh\necho \"foreign post-commit $#\" >> '%s'\n" % marker
    with open(os.path.join(hooks, "post-commit"), "w") as f:
        f.write(foreign)
    os.chmod(os.path.join(hooks, "post-commit"), 0o755)
    out = rouse("git", "install-hooks", clone, "--server", srv.url)
    check("post-commit: installed; the hook that was there runs first" in out,
          "install reports the chained hook: %r" % out)
    check("as repository clone" in out, "default repository name: %r" % out)
    with open(os.path.join(hooks, "post-commit.rouse-chained")) as f:
        check_eq(f.read(), foreign, "the foreign hook is kept as .rouse-chained")
    for name in ("post-commit", "post-merge", "post-checkout", "post-rewrite"):
        with open(os.path.join(hooks, name)) as f:
            check("# installed by rouse" in f.read(), "%s is rouse's hook" % name)
    check(not os.path.exists(os.path.join(hooks, "post-receive")),
          "no post-receive in a work tree")
    out = rouse("git", "install-hooks", clone, "--server", srv.url)
    check("post-commit: updated" in out, "reinstall updates: %r" % out)
    with open(os.path.join(hooks, "post-commit.rouse-chained")) as f:
        check_eq(f.read(), foreign, "reinstall keeps the foreign hook")
    check_eq(sorted(n for n in os.listdir(hooks) if "rouse" in n),
             ["post-commit.rouse-chained"], "reinstall chains nothing twice")
    rouse("git", "install-hooks", bare, "--server", srv.url, "--repo-name", "octo/repo")
    bare_hooks = sorted(n for n in os.listdir(os.path.join(bare, "hooks"))
                        if not n.endswith(".sample"))
    check_eq(bare_hooks, ["post-receive", "reference-transaction"], "bare repo hooks")

    # --- a commit: git.commit, a run, and the foreign hook ran too ---
    def commit(name, message):
        with open(os.path.join(clone, name), "w") as f:
            f.write(message + "\n")
        git("add", name, cwd=clone)
        git("commit", "-q", "-m", message, cwd=clone)
        return git("rev-parse", "HEAD", cwd=clone)

    first = commit("a.txt", "First commit\n\nWith a body.")
    ev = event(hashed("commit", "clone", first))
    check_eq(ev["type"], "git.commit", "commit type")
    check_eq(ev["subject"], "clone", "commit subject")
    committed_at = git("log", "-1", "--format=%cI", first, cwd=clone)
    check_eq(ev["data"], {"repo": "clone", "ref": "refs/heads/main", "sha": first,
                          "parents": [], "message": "First commit\n\nWith a body.",
                          "author": {"name": "Ada Lovelace", "email": "ada@example.com"},
                          "committed_at": committed_at}, "git.commit data")
    ran(ev, "on-commit", first)
    with open(marker) as f:
        check_eq(f.read().splitlines(), ["foreign post-commit 0"],
                 "the chained foreign hook ran once")

    # --- a branch checkout: git.checkout ---
    seq = srv.healthz()["last_seq"]
    git("checkout", "-q", "-b", "feature", cwd=clone)
    checkouts = [e for e in events_after(seq) if e["type"] == "git.checkout"]
    check_eq(len(checkouts), 1, "one git.checkout")
    check_eq(checkouts[0]["data"], {"repo": "clone", "before": first, "after": first,
                                    "ref": "refs/heads/feature",
                                    "branch_checkout": True}, "git.checkout data")
    feature = commit("b.txt", "Feature work")
    git("checkout", "-q", "main", cwd=clone)
    main_work = commit("c.txt", "Main work")

    # --- an amend: git.commit and git.rewrite ---
    git("commit", "-q", "--amend", "-m", "Main work, amended", cwd=clone)
    amended = git("rev-parse", "HEAD", cwd=clone)
    ev = event(hashed("rewrite", "clone", "amend", "%s:%s," % (main_work, amended)))
    check_eq(ev["data"], {"repo": "clone", "ref": "refs/heads/main", "kind": "amend",
                          "rewritten": [{"before": main_work, "after": amended}]},
             "git.rewrite data")
    check_eq(event(hashed("commit", "clone", amended))["data"]["parents"], [first],
             "the amended commit's parents")
    with open(marker) as f:
        check_eq(len(f.read().splitlines()), 4, "the foreign hook ran for each commit")

    # --- a merge: git.merge and a run ---
    git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature", cwd=clone)
    merged = git("rev-parse", "HEAD", cwd=clone)
    ev = event(hashed("merge", "clone", "refs/heads/main", amended, merged, "merge"))
    check_eq(ev["type"], "git.merge", "merge type")
    check_eq(ev["data"], {"repo": "clone", "ref": "refs/heads/main", "before": amended,
                          "sha": merged, "squash": False}, "git.merge data")
    ran(ev, "on-merge", merged)

    # --- a push into the bare repo: git.push (provider local), once, and a run ---
    seq = srv.healthz()["last_seq"]
    git("push", "-q", "origin", "main", cwd=clone)
    pid = push_id("octo/repo", "refs/heads/main", ZEROS, merged)
    ev = event(pid)
    check_eq(ev["type"], "git.push", "push type")
    data = ev["data"]
    expected_commits = git("rev-list", "--reverse", merged, cwd=clone).split()
    check_eq([c["id"] for c in data["commits"]], expected_commits,
             "a new branch lists every commit new to the repository, oldest first")
    check_eq(data["commits"][-1], {"id": merged, "message": "Merge feature",
                                   "author": {"name": "Ada Lovelace",
                                              "email": "ada@example.com"},
                                   "url": ""}, "a pushed commit")
    check_eq({k: v for k, v in data.items() if k != "commits"},
             {"repo": "octo/repo", "ref": "refs/heads/main", "before": ZEROS,
              "after": merged, "pusher": "it-pusher", "provider": "local"},
             "git.push data")
    ran(ev, "on-push", merged + " octo/repo")
    pushes = [e["id"] for e in events_after(seq) if e["type"] == "git.push"]
    check_eq(pushes, [pid], "reference-transaction and post-receive stored one event")

    # --- a second push, and GitHub's webhook for it: one event ---
    second = commit("d.txt", "Second push")
    git("push", "-q", "origin", "main", cwd=clone)
    pid = push_id("octo/repo", "refs/heads/main", merged, second)
    local = event(pid)
    check_eq([c["id"] for c in local["data"]["commits"]], [second],
             "an update lists the commits between before and after")
    ran(local, "on-push", second)
    payload = {"ref": "refs/heads/main", "before": merged, "after": second,
               "repository": {"full_name": "octo/repo"}, "pusher": {"name": "ada"},
               "commits": [{"id": second, "message": "Second push",
                            "url": "https://github.com/octo/repo/commit/" + second,
                            "author": {"name": "Ada Lovelace",
                                       "email": "ada@example.com"}}]}
    body = json.dumps(payload).encode()
    r = srv.request_headers("POST", "/hooks/github", body,
                            webhook_sign.github_headers(SECRET, body, event="push",
                                                        delivery="delivery-7"))
    check_eq(r.status, 202, "the forge's delivery is accepted (%r)" % r)
    items = r.json["events"]
    check_eq([(i["id"], i["duplicate"]) for i in items],
             [("delivery-7", False), (pid, True)],
             "github.push is new, its git.push a duplicate of the local push")
    check_eq(items[1]["seq"], local["rouse"]["seq"], "the duplicate names the local event")
    check_eq(event(pid)["data"]["provider"], "local", "the local event stays")
    ran(srv.get_json("/api/events/delivery-7?source=gh"), "on-forge-push", second)
    push_runs = [x for x in srv.get_json("/api/runs?trigger=on-push&limit=1000")["runs"]
                 if x["event_id"] == pid]
    check_eq(len(push_runs), 1, "one on-push run for the push")

    # --- deleting a branch by push; updates outside a push; pack-refs is no push ---
    git("push", "-q", "origin", "feature", cwd=clone)
    git("push", "-q", "origin", "--delete", "feature", cwd=clone)
    ev = event(push_id("octo/repo", "refs/heads/feature", feature, ZEROS))
    check_eq((ev["data"]["after"], ev["data"]["commits"]), (ZEROS, []), "a deletion")
    git("update-ref", "refs/heads/tool", first, cwd=bare)
    ev = event(push_id("octo/repo", "refs/heads/tool", ZEROS, first))
    check_eq(ev["data"]["commits"], [], "a new ref to known commits lists none")
    git("update-ref", "refs/heads/tool", second, cwd=bare)
    event(push_id("octo/repo", "refs/heads/tool", first, second))
    seq = srv.healthz()["last_seq"]
    git("pack-refs", "--all", cwd=bare)
    git("gc", "-q", cwd=bare)
    check_eq(events_after(seq), [], "pack-refs and gc report nothing")
    git("branch", "-D", "tool", cwd=bare)
    ev = event(push_id("octo/repo", "refs/heads/tool", second, ZEROS))
    check_eq(ev["data"]["commits"], [], "deleting a packed ref")

    # --- an unreachable server never fails git, and says so on one line ---
    offline = os.path.join(work, "offline")
    git("init", "-q", "-b", "main", offline)
    port = free_closed_port()
    rouse("git", "install-hooks", offline, "--server", "http://127.0.0.1:%d" % port)
    with open(os.path.join(offline, "x.txt"), "w") as f:
        f.write("x\n")
    git("add", "x.txt", cwd=offline)
    r = run(["git", "-c", "user.name=B", "-c", "user.email=b@x", "commit", "-q", "-m",
             "offline"], cwd=offline)
    prefix = "rouse: could not report post-commit to http://127.0.0.1:%d: " % port
    lines = [line for line in r.stderr.splitlines() if line.startswith("rouse:")]
    check(len(lines) == 1 and lines[0].startswith(prefix),
          "one line on stderr: %r" % r.stderr)
    check(r.elapsed < HOOK_MARGIN, "the commit took %.1fs" % r.elapsed)

    # --- uninstall restores the foreign hook and reports nothing more ---
    out = rouse("git", "install-hooks", "--uninstall", clone)
    check("post-commit: removed, the previous hook is back" in out, "uninstall: %r" % out)
    with open(os.path.join(hooks, "post-commit")) as f:
        check_eq(f.read(), foreign, "the foreign hook is back")
    left = sorted(n for n in os.listdir(hooks) if not n.endswith(".sample"))
    check_eq(left, ["post-commit"], "only the foreign hook is left")
    seq = srv.healthz()["last_seq"]
    commit("e.txt", "After uninstall")
    check_eq(events_after(seq), [], "no events after uninstall")
    with open(marker) as f:
        check_eq(len(f.read().splitlines()), 6, "the foreign hook still runs")
    return "git hooks: commit, checkout, amend, merge, pushes, forge dedup, ref updates ok"


if __name__ == "__main__":
    run_test("git_hooks", main)
