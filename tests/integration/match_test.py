#!/usr/bin/env python3
"""`rouse match` follows its exit-code contract for every case of the pattern data files:
0 + "match" when the case matches, 1 + "no match" when it does not, and 2 with the
compiler's message for every invalid pattern (and for an invalid event or missing file)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "patterns")


def run(rouse, pattern_text, event_text, tmp):
    p = os.path.join(tmp, "pattern.json")
    e = os.path.join(tmp, "event.json")
    with open(p, "w") as f:
        f.write(pattern_text)
    with open(e, "w") as f:
        f.write(event_text)
    r = subprocess.run([rouse, "match", "--pattern", p, "--event", e],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rouse", required=True)
    args = ap.parse_args()
    failures = []
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("operators", "structure"):
            with open(os.path.join(DATA, name + ".json")) as f:
                cases = json.load(f)
            for case in cases:
                code, out, err = run(args.rouse, json.dumps(case["pattern"]),
                                     json.dumps(case["event"]), tmp)
                want = (0, "match") if case["match"] else (1, "no match")
                if (code, out) != want:
                    failures.append(f"{name}: {case['name']}: got exit {code} "
                                    f"{out!r} {err!r}, want {want}")
                checked += 1
        with open(os.path.join(DATA, "invalid.json")) as f:
            invalid = json.load(f)
        event = json.dumps({"specversion": "1.0", "id": "1", "source": "s",
                            "type": "t"})
        for case in invalid:
            pattern = case["pattern"]
            text = pattern if isinstance(pattern, str) else json.dumps(pattern)
            code, out, err = run(args.rouse, text, event, tmp)
            if code != 2 or case["error"] not in err:
                failures.append(f"invalid {text[:60]!r}: got exit {code} {err!r}, "
                                f"want 2 with {case['error']!r}")
            checked += 1
        code, out, err = run(args.rouse, '{"type":["t"]}', '{"id":"1","type":"t"}',
                             tmp)
        if code != 2 or 'missing required attribute "source"' not in err:
            failures.append(f"invalid event: got exit {code} {err!r}")
        r = subprocess.run([args.rouse, "match", "--pattern", "/nonexistent.json",
                            "--event", "/nonexistent.json"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 2 or "nonexistent" not in r.stderr:
            failures.append(f"missing file: got exit {r.returncode} {r.stderr!r}")
        checked += 2
    for f in failures:
        print("FAIL", f)
    if failures:
        print(f"FAIL match: {len(failures)} of {checked} checks failed")
        return 1
    print(f"PASS match: {checked} checks of the exit-code contract")
    return 0


if __name__ == "__main__":
    sys.exit(main())
