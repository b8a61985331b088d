#!/usr/bin/env python3
"""Differential test of `rouse cron next` against croniter 1.3.5 and an independent
reference of the documented DST policies (docs/cron.md).

Seeded random expressions (5 and 6 fields, names, ranges, steps, lists, macros, @every)
across six zones, with --from times on ordinary days and on the spring-forward and
fall-back days of 2025/2026, go through rouse in one hidden `--batch` run (thousands of
process starts under AddressSanitizer would take minutes). For each case:

1. rouse must equal the reference, a brute-force enumeration of local wall times written
   here from the policy text (never from rouse's answers), under the default policies
   and under `--repeated twice --skipped skip`;
2. rouse's default answer is compared with croniter's (6-field expressions converted to
   croniter's seconds-last order), step by step from the same start. Every differing
   step must be explained by a DST transition next to it or between the start and the
   fire time, and is counted in a named class; any other difference fails.

Also checks that an invalid expression exits 2 with the reason. Prints a summary.
Run: /usr/bin/python3 tests/integration/cron_next_test.py --rouse build/runtime/daemon/rouse
"""
import argparse
import collections
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

from zoneinfo import ZoneInfo

from croniter import croniter

SEED = 20260329
CASES = 2400
COUNT = 5
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney",
         "Asia/Kolkata", "America/St_Johns"]
HOUR = 3600
DAY = 86400
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
          "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@hourly": "0 * * * *"}
EVERY = {"90s": 90, "1h30m": 5400, "2h": 7200, "45m": 2700, "1h": 3600,
         "7m30s": 450, "25h": 90000}


# ---------------------------------------------------------------- zones

def offset_at(tz, t):
    return int(datetime.fromtimestamp(t, tz).utcoffset().total_seconds())


def find_transitions(tz, start_year=2020, end_year=2045):
    """Returns [(instant, offset_before, offset_after)], found by a daily scan and
    bisection to the second (these zones change at most once a day)."""
    t = int(datetime(start_year, 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(end_year, 1, 1, tzinfo=timezone.utc).timestamp())
    out = []
    prev = offset_at(tz, t)
    while t < end:
        nxt = t + DAY
        off = offset_at(tz, nxt)
        if off != prev:
            lo, hi = t, nxt  # offset_at(lo) == prev, offset_at(hi) == off
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset_at(tz, mid) == prev:
                    lo = mid
                else:
                    hi = mid
            out.append((hi, prev, off))
            prev = off
        t = nxt
    return out


class Zone:
    def __init__(self, name):
        self.name = name
        self.tz = ZoneInfo(name)
        self.transitions = find_transitions(self.tz)
        offs = {offset_at(self.tz, 1735689600)}
        for _, a, b in self.transitions:
            offs.update((a, b))
        self.offsets = sorted(offs)

    def instants(self, local):
        """The instants whose wall time is `local` (seconds of a naive local epoch)."""
        return sorted(local - o for o in self.offsets
                      if offset_at(self.tz, local - o) == o)

    def gap_end(self, local):
        """The first instant after the spring-forward gap containing `local`."""
        for tr, before, after in self.transitions:
            if tr + before <= local < tr + after:
                return tr
        raise AssertionError("%s: %d is in no gap" % (self.name, local))

    def iso(self, t):
        return datetime.fromtimestamp(t, self.tz).isoformat()


# ---------------------------------------------------------------- expressions

class Expr:
    """A generated expression with the value sets it means (computed here, not by
    rouse): text for rouse, text for croniter, and fields for the reference."""

    def __init__(self):
        self.text = ""
        self.croniter_text = ""
        self.every = 0
        self.seconds = {0}
        self.minutes = self.hours = self.doms = self.months = self.dows = set()
        self.dom_star = self.dow_star = True


def gen_element(rng, lo, hi, names, allow_start_step, value_picker):
    """Returns (text, values) for one list element of a field lo-hi."""
    def val_text(v):
        if names and rng.random() < 0.4 and v - lo < len(names):
            name = names[v - lo]
            return rng.choice([name, name.lower(), name.capitalize()])
        return str(v)

    kind = rng.random()
    if kind < 0.45:
        v = value_picker()
        return val_text(v), {v}
    if kind < 0.65:
        a = value_picker()
        b = rng.randint(a, min(hi, a + rng.randint(1, 6)))
        return "%s-%s" % (val_text(a), val_text(b)), set(range(a, b + 1))
    if kind < 0.8:
        step = rng.choice([2, 3, 4, 5, 6, 10, 15, 20])
        step = min(step, hi - lo + 1)
        return "*/%d" % step, set(range(lo, hi + 1, step))
    if kind < 0.92 or not allow_start_step:
        a = value_picker()
        b = rng.randint(a, hi)
        step = rng.randint(1, max(1, (b - a) // 2 or 1))
        return "%s-%s/%d" % (val_text(a), val_text(b), step), set(range(a, b + 1, step))
    a = value_picker()
    step = rng.randint(1, 12)
    return "%s/%d" % (val_text(a), step), set(range(a, hi + 1, step))


def gen_field(rng, lo, hi, star_p, names=None, allow_start_step=True,
              value_picker=None):
    """Returns (text, values, starts_with_star)."""
    picker = value_picker or (lambda: rng.randint(lo, hi))
    if rng.random() < star_p:
        return "*", set(range(lo, hi + 1)), True
    parts, values = [], set()
    for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
        t, v = gen_element(rng, lo, hi, names, allow_start_step, picker)
        parts.append(t)
        values |= v
    text = ",".join(parts)
    return text, values, text.startswith("*")


def gen_expr(rng):
    e = Expr()
    r = rng.random()
    if r < 0.03:
        name, secs = rng.choice(sorted(EVERY.items()))
        e.text = "@every " + name
        e.every = secs
        return e
    if r < 0.08:
        macro = rng.choice(sorted(MACROS))
        e.text = rng.choice([macro, macro.upper()])
        e.croniter_text = macro
        fields = MACROS[macro].split()
        e.seconds = {0}
        e.minutes = {int(fields[0])}
        e.hours = set(range(24)) if fields[1] == "*" else {int(fields[1])}
        e.doms = set(range(1, 32)) if fields[2] == "*" else {int(fields[2])}
        e.months = set(range(1, 13)) if fields[3] == "*" else {int(fields[3])}
        e.dows = set(range(7)) if fields[4] == "*" else {int(fields[4])}
        return e
    six = rng.random() < 0.15
    # Local hours 0-3 are where these zones change offset.
    hour_pick = lambda: rng.choice([0, 1, 1, 2, 2, 2, 3, 3, rng.randint(0, 23)])
    while True:
        sec = gen_field(rng, 0, 59, 0.05) if six else ("0", {0}, False)
        minute = gen_field(rng, 0, 59, 0.15)
        hour = gen_field(rng, 0, 23, 0.3, value_picker=hour_pick)
        dom = gen_field(rng, 1, 31, 0.75)
        month = gen_field(rng, 1, 12, 0.8, names=MONTHS,
                          value_picker=lambda: rng.choice(
                              [3, 4, 10, 11, rng.randint(1, 12)]))
        # croniter 1.3.5 never matches a 7 in 6-field expressions: keep 0-6 there.
        dow = gen_field(rng, 0, 6 if six else 7, 0.75, names=DAYS,
                        allow_start_step=not six)
        dows = {d % 7 for d in dow[1]}
        full_dom = dom[1] == set(range(1, 32))
        full_dow = dows == set(range(7))
        # Vixie: OR when neither field starts with '*'; croniter: OR when neither
        # field covers every value. Keep expressions where both rules agree.
        if (not dom[2] and not dow[2]) != (not full_dom and not full_dow):
            continue
        # croniter 1.3.5 expands a 6-field "*/7" to {0, 7} and then counts 8 values
        # as "every day".
        if six and "*/7" in dow[0]:
            continue
        break
    texts = [minute[0], hour[0], dom[0], month[0], dow[0]]
    e.text = " ".join(([sec[0]] if six else []) + texts)
    e.croniter_text = " ".join(texts + ([sec[0]] if six else []))
    e.seconds, e.minutes, e.hours = sec[1], minute[1], hour[1]
    e.doms, e.months, e.dows = dom[1], month[1], dows
    e.dom_star, e.dow_star = dom[2], dow[2]
    return e


# ---------------------------------------------------------------- reference

def days_in_month(y, m):
    return ((datetime(y + (m == 12), m % 12 + 1, 1) - datetime(y, m, 1)).days)


def civil(local):
    return datetime(1970, 1, 1) + timedelta(seconds=local)


def local_matches(e, start_local):
    """Yields the matching local times >= start_local in increasing order."""
    d = civil(start_local).date()
    first = True
    limit = d.year + 11
    while d.year < limit:
        wd = (d.weekday() + 1) % 7  # Sunday = 0
        dom_ok, dow_ok = d.day in e.doms, wd in e.dows
        day_ok = (dom_ok or dow_ok) if not (e.dom_star or e.dow_star) else (dom_ok and dow_ok)
        if d.month in e.months and day_ok:
            base = int((datetime(d.year, d.month, d.day) - datetime(1970, 1, 1)).total_seconds())
            for h in sorted(e.hours):
                if first and base + h * HOUR + 3599 < start_local:
                    continue
                for m in sorted(e.minutes):
                    for s in sorted(e.seconds):
                        t = base + h * HOUR + m * 60 + s
                        if t >= start_local:
                            yield t
        first = False
        d += timedelta(days=1)


def reference_next(e, zone, after, count, repeated="once", skipped="shift"):
    """The first `count` fire times after `after` by the documented policies."""
    if e.every:
        k = after // e.every + 1
        return [(k + i) * e.every for i in range(count)]
    every_hour = e.hours == set(range(24))
    found = set()
    min_off, max_off = zone.offsets[0], zone.offsets[-1]
    for local in local_matches(e, after + min_off + 1):
        if len(found) >= count and local - max_off > sorted(found)[count - 1]:
            break
        inst = zone.instants(local)
        if not inst:
            if skipped == "shift" and not every_hour:
                inst = [zone.gap_end(local)]
        elif len(inst) == 2 and repeated == "once" and not every_hour:
            inst = inst[:1]
        found.update(t for t in inst if t > after)
    return sorted(found)[:count]


def croniter_after(e, zone, after):
    """croniter's first fire time after `after`, or None."""
    it = croniter(e.croniter_text, datetime.fromtimestamp(after, zone.tz))
    try:
        return int(it.get_next(datetime).timestamp())
    except Exception:  # CroniterBadDateError: nothing within its search limit
        return None


# ---------------------------------------------------------------- classification

SKIPPED = ("skipped time: rouse fires once at the end of the gap (shift); croniter "
           "fires the nonexistent wall time read with the old offset, or not at all")
REPEATED = ("repeated time: rouse and croniter fire a wall time of the repeated "
            "hour differently")
CARRIED = ("offset change carried over: a transition lies between the start and "
           "the fire time and croniter's answer is off by the offset change")


MONTH_END = ("croniter month-end bug (not DST): with a day-of-month value past the "
             "end of the start's month, croniter skips matching days early in the "
             "next month")

IMPOSSIBLE_DOM = ("croniter impossible day-of-month (not DST): with both day fields "
                  "restricted and a day of month that never exists in the months "
                  "(e.g. 31 in April), croniter finds nothing although weekdays match")


def transitions_between(zone, lo, hi):
    return [t for t in zone.transitions if lo < t[0] <= hi]


def classify_step(e, zone, prev, r, c):
    """Names the DST class of one differing step (rouse `r`, croniter `c`, both the
    first fire time after `prev`), or None if no DST rule explains it. `r` was
    already checked against the policy reference."""
    if r is None:
        return None
    if c is None:
        # croniter computes the day-of-month half of an OR on its own and gives up
        # when it never matches (e.g. April 31), even though the weekdays match.
        longest = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}
        if (not e.dom_star and not e.dow_star
                and all(d > longest.get(m, 31) for m in e.months for d in e.doms)):
            return IMPOSSIBLE_DOM
        return None
    for tr, before, after in transitions_between(zone, prev - 2 * HOUR,
                                                 max(r, c) + 2 * HOUR):
        delta = after - before
        # rouse fired at the end of a gap because a matching wall time fell in it.
        if delta > 0 and r == tr and c >= r and e.hours != set(range(24)):
            return SKIPPED
        # A wall time of the repeated hour (it occurs twice) on either side.
        if delta < 0 and any(len(zone.instants(t + offset_at(zone.tz, t))) == 2
                             for t in (r, c)):
            return REPEATED
        if tr <= max(r, c) and abs(c - r) == abs(delta):
            return CARRIED
    p_local, r_local = (civil(t + offset_at(zone.tz, t)) for t in (prev, r))
    if (c > r and (p_local.year, p_local.month) != (r_local.year, r_local.month)
            and max(e.doms) > days_in_month(p_local.year, p_local.month)):
        return MONTH_END
    return None


# ---------------------------------------------------------------- driver

def gen_from(rng, zone):
    if zone.transitions and rng.random() < 0.65:
        lo = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
        hi = datetime(2027, 1, 1, tzinfo=timezone.utc).timestamp()
        in_window = [t for t in zone.transitions if lo <= t[0] < hi]
        tr = rng.choice(in_window)[0]
        t = tr + rng.randint(-30 * HOUR, 6 * HOUR)
    else:
        t = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()) \
            + rng.randint(0, 730 * DAY)
    if rng.random() < 0.5:
        t -= t % 60
    return t


def run_batch(rouse, lines):
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    try:
        r = subprocess.run([rouse, "cron", "next", "--batch", path],
                           capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        raise SystemExit("FAIL cron_next: batch run exited %d: %s"
                         % (r.returncode, r.stderr[-2000:]))
    # Each answer is its lines followed by one empty line (alone if no times).
    blocks, block = [], []
    for line in r.stdout.split("\n")[:-1]:
        if line:
            block.append(line)
        else:
            blocks.append(block)
            block = []
    if len(blocks) != len(lines):
        raise SystemExit("FAIL cron_next: %d answers for %d lines"
                         % (len(blocks), len(lines)))
    return blocks


def to_instants(block):
    if block and block[0].startswith("error: "):
        return block[0]
    return [int(datetime.fromisoformat(t).timestamp()) for t in block]


def check_invalid(rouse, failures):
    cases = [
        (["61 * * * *"], 'rouse: invalid cron expression "61 * * * *": minute field: '
                         "61 is out of range 0-59"),
        (["* * * * *", "--tz", "Europe/Berln"],
         'rouse: invalid cron expression "* * * * *": unknown time zone "Europe/Berln"'),
        (["5-1 * * * *"], "minute field: range 5-1 is inverted"),
        (["* * * * * * *"], "got 7"),
        (["@every 500ms"], "interval must be at least 1s"),
        (["* * * * *", "--from", "yesterday"], 'rouse: invalid --from "yesterday"'),
    ]
    for argv, want in cases:
        r = subprocess.run([rouse, "cron", "next"] + argv, capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 2 or want not in r.stderr or r.stdout:
            failures.append("invalid %r: exit %d, stderr %r, want exit 2 with %r"
                            % (argv, r.returncode, r.stderr, want))
    r = subprocess.run([rouse, "cron", "next", "0 0 30 2 *", "--count", "3"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or r.stdout or "no fire times" not in r.stderr:
        failures.append("impossible schedule: exit %d %r %r"
                        % (r.returncode, r.stdout, r.stderr))
    r = subprocess.run([rouse, "cron", "next", "30 2 * * *", "--tz", "Europe/Berlin",
                        "--from", "2026-03-28T12:00:00", "--count", "2"],
                       capture_output=True, text=True, timeout=60)
    want = "2026-03-29T03:00:00+02:00\n2026-03-30T02:30:00+02:00\n"
    if r.returncode != 0 or r.stdout != want:
        failures.append("single run: exit %d %r, want %r" % (r.returncode, r.stdout, want))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rouse", required=True)
    ap.add_argument("--cases", type=int, default=CASES)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    started = time.monotonic()
    rng = random.Random(args.seed)
    zones = {name: Zone(name) for name in ZONES}
    cases = []
    for i in range(args.cases):
        zone = zones[ZONES[i % len(ZONES)]]
        cases.append((gen_expr(rng), zone, gen_from(rng, zone)))
    lines = []
    for e, zone, after in cases:
        for policy in ("", "\ttwice\tskip"):
            lines.append("%s\t%s\t%s\t%d%s" % (e.text, zone.name, zone.iso(after),
                                               COUNT, policy or "\tonce\tshift"))
    answers = run_batch(args.rouse, lines)

    failures = []
    classes = collections.Counter()
    identical = differing = every_checked = 0
    for n, (e, zone, after) in enumerate(cases):
        where = "%r in %s from %s" % (e.text, zone.name, zone.iso(after))
        default, alt = to_instants(answers[2 * n]), to_instants(answers[2 * n + 1])
        if isinstance(default, str) or isinstance(alt, str):
            failures.append("%s: rouse rejected it: %s" % (where, default))
            continue
        for got, (rep, skp) in ((default, ("once", "shift")), (alt, ("twice", "skip"))):
            want = reference_next(e, zone, after, COUNT, rep, skp)
            if got != want:
                failures.append("%s --repeated %s --skipped %s: rouse %s, policy says %s"
                                % (where, rep, skp, [zone.iso(t) for t in got],
                                   [zone.iso(t) for t in want]))
        if e.every:
            every_checked += 1
            continue
        # Step by step from the same start (`from`, then each of rouse's times), so
        # one croniter slip does not cascade into the following times.
        case_classes = set()
        unexplained = []
        prev = after
        for r in default:
            c = croniter_after(e, zone, prev)
            if c != r:
                cls = classify_step(e, zone, prev, r, c)
                if cls is None:
                    unexplained.append((prev, r, c))
                else:
                    case_classes.add(cls)
                    if os.environ.get("CRON_TEST_EXAMPLES"):
                        print("EXAMPLE %s | %r %s after %s: rouse %s croniter %s"
                              % (cls[:10], e.text, zone.name, zone.iso(prev),
                                 zone.iso(r), zone.iso(c)))
            prev = r
        if unexplained:
            prev, r, c = unexplained[0]
            failures.append("%s (croniter %r): unexplained difference after %s: rouse "
                            "%s, croniter %s" % (where, e.croniter_text, zone.iso(prev),
                                                 zone.iso(r),
                                                 zone.iso(c) if c else None))
        elif case_classes:
            for cls in case_classes:
                classes[cls] += 1
            differing += 1
        else:
            identical += 1
    check_invalid(args.rouse, failures)

    compared = len(cases) - every_checked
    print("cron_next: %d cases (%d zones, seed %d), %d field schedules compared with "
          "croniter: %d identical, %d differ only by DST classes below; %d @every "
          "cases checked against epoch multiples; every case also checked against the "
          "policy reference under once/shift and twice/skip"
          % (len(cases), len(ZONES), args.seed, compared, identical,
             differing, every_checked))
    for cls, n in classes.most_common():
        print("  %5d  %s" % (n, cls))
    for f in failures[:30]:
        print("FAIL", f)
    elapsed = time.monotonic() - started
    if failures:
        print("FAIL cron_next: %d failures (%.1fs)" % (len(failures), elapsed))
        return 1
    print("PASS cron_next (%.1fs)" % elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
