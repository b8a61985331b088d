"""Shared helpers of the rouse integration tests (Python 3 standard library only).

A test builds a RouseServer (config + data dir in a fresh temp dir), starts the real
`rouse serve` binary, talks to it over HTTP on 127.0.0.1, and runs its checks inside
`run_test`, which turns any failure into a clear message, the server's stderr and a
non-zero exit. Every wait is bounded: `wait_until` polls a condition against a
deadline.
"""

import argparse
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

SERVING_RE = re.compile(
    r"rouse: serving http://127\.0\.0\.1:(\d+) with (\d+) trigger\(s\), store (.*) "
    r"\(last seq (\d+)\)")

START_TIMEOUT = 30.0  # seconds to wait for the serving line
STOP_TIMEOUT = 30.0  # seconds to wait for a clean exit after SIGTERM/SIGINT
HTTP_TIMEOUT = 10.0  # seconds per HTTP request

_live_servers = []  # every RouseServer ever created, for cleanup and stderr dumps


class TestFailure(Exception):
    """A failed check: the message says what was expected and what was seen."""


def fail(message):
    raise TestFailure(message)


def check(condition, message):
    if not condition:
        fail(message)


def check_eq(actual, expected, what):
    if actual != expected:
        fail("%s: expected %r, got %r" % (what, expected, actual))


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout`
    seconds pass (then fails naming `what`)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except TestFailure:
            raise
        except Exception as e:  # e.g. a transient connection error
            last_error = e
        if time.monotonic() >= deadline:
            detail = " (last error: %r)" % (last_error,) if last_error else ""
            fail("timed out after %.0fs waiting for %s%s" % (timeout, what, detail))
        time.sleep(interval)


def parse_args(description="", extra=None):
    """Common options (--rouse, --keep, --seed); `extra(parser)` may add more."""
    p = argparse.ArgumentParser(description=description)
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "build", "runtime", "daemon", "rouse")
    p.add_argument("--rouse", default=os.path.normpath(default),
                   help="path of the rouse binary")
    p.add_argument("--keep", action="store_true",
                   help="keep the temp dirs even if the test passes")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed (tests that use randomness)")
    if extra is not None:
        extra(p)
    args = p.parse_args()
    args.rouse = os.path.abspath(args.rouse)
    args.rouse_original = args.rouse
    args.rouse = snapshot_binary(args.rouse)
    return args


def snapshot_binary(path, timeout=120.0):
    """Copies the binary under test into a private temp dir and returns the copy.

    The build tree is shared: a concurrent `cmake --build` may relink the binary
    while a test runs (it is briefly missing or not executable then), and every
    restart of a test must run the same binary. The copy is taken when the file is
    executable and unchanged across the copy; bounded by `timeout`."""
    snap_dir = tempfile.mkdtemp(prefix="rouse-it-bin-")
    atexit.register(shutil.rmtree, snap_dir, True)
    dest = os.path.join(snap_dir, "rouse")
    deadline = time.monotonic() + timeout
    while True:
        try:
            before = os.stat(path)
            if os.access(path, os.X_OK) and before.st_size > 0:
                shutil.copy2(path, dest)
                after = os.stat(path)
                if (before.st_mtime_ns, before.st_size, before.st_ino) == (
                        after.st_mtime_ns, after.st_size, after.st_ino) and \
                        os.path.getsize(dest) == after.st_size:
                    return dest
        except OSError:
            pass
        if time.monotonic() >= deadline:
            print("FAIL: rouse binary not found, not executable or still changing "
                  "after %.0fs: %s" % (timeout, path))
            sys.exit(1)
        time.sleep(0.5)


class HttpResult:
    """An HTTP answer: status, raw body, and `json` (None if the body is not JSON)."""

    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "HttpResult(%d, %s)" % (self.status, self.text[:500])


def http_request(port, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT):
    """One request to 127.0.0.1:port. HTTP error statuses are returned, not raised;
    connection problems raise OSError (urllib.error.URLError is one)."""
    url = "http://127.0.0.1:%d%s" % (port, path)
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else body.encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return HttpResult(resp.status, resp.read(), dict(resp.headers))
    except urllib.error.HTTPError as e:
        try:
            payload = e.read()
        except OSError:
            payload = b""
        return HttpResult(e.code, payload, dict(e.headers or {}))


def cloudevent(type_="demo.hello", source="test", id_=None, data=None, **extra):
    ev = {"specversion": "1.0", "type": type_, "source": source}
    if id_ is not None:
        ev["id"] = id_
    if data is not None:
        ev["data"] = data
    ev.update(extra)
    return ev


class RouseServer:
    """One rouse host: a temp dir holding the config, the data dir, handler scripts
    and the collected stderr of every start. `start()` may be called again after
    `stop()`/`kill9()`: it reuses the same data dir (a restart)."""

    def __init__(self, rouse, triggers_yaml, node_extra=None, name="it", keep=False):
        self.rouse = rouse
        self.dir = tempfile.mkdtemp(prefix="rouse-it-%s-" % name)
        self.data_dir = os.path.join(self.dir, "data")
        self.config_path = os.path.join(self.dir, "rouse.yaml")
        self.stderr_path = os.path.join(self.dir, "server.stderr")
        self.keep = keep
        self.proc = None
        self.port = None
        self.starts = 0
        self.last_seq_at_start = None
        self._stderr_file = None
        node = {"name": name, "data_dir": self.data_dir, "listen": "127.0.0.1:0",
                "durability": "fsync", "shards": 2}
        node.update(node_extra or {})
        lines = ["node:"]
        for k, v in node.items():
            lines.append("  %s: %s" % (k, v))
        lines.append("triggers:")
        # "{dir}" in the triggers text stands for the temp dir (handler paths).
        lines.append(triggers_yaml.replace("{dir}", self.dir).rstrip("\n"))
        self.write_config("\n".join(lines) + "\n")
        _live_servers.append(self)

    # ----- files -----

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def write_script(self, name, body):
        """Writes an executable handler script into the temp dir; returns its path."""
        p = self.path(name)
        with open(p, "w") as f:
            f.write(body)
        os.chmod(p, 0o755)
        return p

    def stderr_text(self):
        try:
            with open(self.stderr_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ----- process -----

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=START_TIMEOUT):
        """Starts `rouse serve` and waits (bounded) for its serving line."""
        check(not self.running(), "start() while the server is still running")
        self.starts += 1
        self.port = None
        with open(self.stderr_path, "a") as f:
            f.write("----- start #%d -----\n" % self.starts)
        offset = os.path.getsize(self.stderr_path)
        self._stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [self.rouse, "serve", "-c", self.config_path],
            stdin=subprocess.DEVNULL, stdout=self._stderr_file,
            stderr=self._stderr_file, cwd=self.dir)
        deadline = time.monotonic() + timeout
        while True:
            with open(self.stderr_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
            m = SERVING_RE.search(text)
            if m:
                self.port = int(m.group(1))
                self.last_seq_at_start = int(m.group(4))
                return self
            rc = self.proc.poll()
            if rc is not None:
                fail("rouse serve exited with %d before serving (start #%d)"
                     % (rc, self.starts))
            if time.monotonic() >= deadline:
                fail("rouse serve did not print its serving line within %.0fs "
                     "(start #%d)" % (timeout, self.starts))
            time.sleep(0.02)

    def _reap(self):
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends `sig` and waits (bounded) for the exit; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                self._reap()
                fail("rouse did not exit within %.0fs after %s"
                     % (timeout, signal.Signals(sig).name))
        self._reap()
        return self.proc.returncode

    def kill9(self):
        """SIGKILL, no cleanup on rouse's side; waits for the process to be gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._reap()

    def restart(self, sig=signal.SIGTERM):
        rc = self.stop(sig)
        check_eq(rc, 0, "exit code of rouse after %s" % signal.Signals(sig).name)
        return self.start()

    def cleanup(self, remove):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except Exception:
                pass
        self._reap()
        if remove and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ----- HTTP -----

    def request(self, method, path, body=None, timeout=HTTP_TIMEOUT):
        check(self.port is not None, "no server port (server not started)")
        return http_request(self.port, method, path, body, timeout=timeout)

    def request_headers(self, method, path, body, headers, timeout=HTTP_TIMEOUT):
        check(self.port is not None, "no server port (server not started)")
        return http_request(self.port, method, path, body, headers=headers,
                            timeout=timeout)

    def get(self, path, timeout=HTTP_TIMEOUT):
        return self.request("GET", path, timeout=timeout)

    def get_json(self, path, expect_status=200):
        r = self.get(path)
        check(r.status == expect_status,
              "GET %s: expected status %d, got %r" % (path, expect_status, r))
        check(r.json is not None, "GET %s: body is not JSON: %r" % (path, r))
        return r.json

    def post_events(self, events, timeout=HTTP_TIMEOUT):
        """POSTs one CloudEvent (dict), a batch (list) or raw text/bytes."""
        if isinstance(events, (dict, list)):
            body = json.dumps(events)
        else:
            body = events
        return self.request("POST", "/api/events", body, timeout=timeout)

    def healthz(self):
        return self.get_json("/healthz")

    def runs(self, trigger=None, state=None, limit=10000):
        q = ["limit=%d" % limit]
        if trigger:
            q.append("trigger=" + trigger)
        if state:
            q.append("state=" + state)
        return self.get_json("/api/runs?" + "&".join(q))["runs"]

    def run(self, run_id):
        return self.get_json("/api/runs/" + run_id)

    def cli(self, *argv, expect=0):
        """Runs `rouse ARGV --server URL` (at most 30 s), checks its exit code and
        returns its stdout followed by its stderr."""
        r = subprocess.run([self.rouse, *argv, "--server", self.url],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == expect, "rouse %s: exit %d, expected %d\n%s%s"
              % (" ".join(argv), r.returncode, expect, r.stdout, r.stderr))
        return r.stdout + r.stderr

    def run_state(self, run_id):
        """The run's state, or None while it does not exist."""
        r = self.get("/api/runs/" + run_id)
        return r.json["state"] if r.status == 200 else None

    def wait_run_state(self, run_id, state, timeout=30):
        """Waits until the run is in `state`; returns it."""
        wait_until(lambda: self.run_state(run_id) == state, timeout,
                   "run %s to become %s" % (run_id, state))
        return self.run(run_id)

    def wait_run_finished(self, run_id, timeout=30):
        """Waits until the run exists and is succeeded, failed, dead, skipped or
        cancelled; returns it."""
        def done():
            r = self.get("/api/runs/" + run_id)
            if r.status == 200 and r.json["state"] in (
                    "succeeded", "failed", "dead", "skipped", "cancelled"):
                return r.json
            return None
        return wait_until(done, timeout, "run %s to finish" % run_id)


def log_rows(path, fields=None):
    """The whitespace-split lines of a handler's log ([] while it does not
    exist); with `fields`, checks that every line has that many fields."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    rows = [line.split() for line in lines if line.strip()]
    for row in rows:
        check(fields is None or len(row) == fields, "%s: bad line %r"
              % (os.path.basename(path), " ".join(row)))
    return rows


def json_lines(path):
    """The JSON values of a file of one per line ([] while it does not exist)."""
    try:
        with open(path) as f:
            return [json.loads(x) for x in f.read().split("\n") if x.strip()]
    except OSError:
        return []


def run_id_for(seq, trigger):
    return "%016x-%s" % (seq, trigger)


def free_closed_port():
    """A 127.0.0.1 port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _cleanup_all(remove):
    for s in _live_servers:
        s.cleanup(remove)


atexit.register(lambda: _cleanup_all(remove=False))


def _on_signal(signum, frame):
    # ctest's timeout: kill the servers before going, so no rouse is left behind.
    print("interrupted by %s; killing the servers" % signal.Signals(signum).name)
    sys.stdout.flush()
    try:
        _cleanup_all(remove=False)
    finally:
        os._exit(1)


for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def run_test(name, body):
    """Runs body(); on success prints the summary line it returns and exits 0; on any
    failure prints the reason, the servers' stderr and exits 1. Servers are always
    killed; temp dirs are removed on success and kept (path printed) on failure."""
    started = time.monotonic()
    try:
        summary = body()
    except TestFailure as e:
        _report_failure(name, "FAIL: %s" % e)
        sys.exit(1)
    except BaseException as e:  # unexpected error: still a failure with context
        _report_failure(name, "ERROR: %r\n%s" % (e, traceback.format_exc()))
        sys.exit(1)
    _cleanup_all(remove=True)
    print("PASS %s: %s (%.1fs)" % (name, summary or "ok", time.monotonic() - started))
    sys.stdout.flush()
    sys.exit(0)


def _report_failure(name, message):
    _cleanup_all(remove=False)
    print("%s: %s" % (name, message))
    for s in _live_servers:
        print("----- rouse stderr (%s) -----" % s.stderr_path)
        text = s.stderr_text()
        if len(text) > 20000:
            text = "[... %d bytes cut ...]\n" % (len(text) - 20000) + text[-20000:]
        print(text.rstrip("\n"))
        print("----- end of stderr; temp dir kept: %s -----" % s.dir)
    print("FAIL %s" % name)
    sys.stdout.flush()
