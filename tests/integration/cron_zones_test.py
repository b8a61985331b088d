#!/usr/bin/env python3
"""Time zones past the zone files' last listed transition (2037): `rouse cron next`
against Python's zoneinfo, which, like rouse, continues each zone with the POSIX TZ rule
in the file's footer.

For zones with northern, southern, half-hour, negative ("Europe/Dublin": winter time is
the DST of its rule) and 24:00 / -1:00 rule times, and one without DST at +05:45,
`0 * * * *` (every hour: the DST policies do not apply) is asked for 10,000 fire times
from starts before and well after 2037. Every local time with minute and second 0 is a
fire time, including both occurrences of a repeated hour, so the expected instants are
enumerated here from zoneinfo every 15 minutes; they and the printed offsets must match
exactly. Also checks a daily schedule across 2038's spring-forward day in Berlin.
Run: /usr/bin/python3 tests/integration/cron_zones_test.py --rouse build/runtime/daemon/rouse
"""
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import check, check_eq, parse_args, run_test  # noqa: E402

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe",
         "America/Santiago", "America/Nuuk", "Europe/Dublin", "Asia/Kathmandu"]
STARTS = ["2037-06-01T00:00:00Z", "2051-02-01T00:00:00Z", "2093-09-01T00:00:00Z"]
COUNT = 10000


def cron_next(rouse, expr, zone, start, count):
    out = subprocess.run([rouse, "cron", "next", expr, "--tz", zone, "--from", start,
                          "--count", str(count)], capture_output=True, text=True,
                         timeout=60)
    check_eq(out.returncode, 0, "rouse cron next exit code (%s)" % out.stderr.strip())
    return out.stdout.split()


def expected_hours(zone, start, count):
    """The first `count` instants after `start` whose local time in `zone` has minute
    and second 0, as ISO 8601 with the local offset."""
    tz = ZoneInfo(zone)
    t = datetime.fromisoformat(start.replace("Z", "+00:00"))
    step = timedelta(minutes=15)
    t = t.replace(minute=0, second=0) + step
    out = []
    while len(out) < count:
        local = t.astimezone(tz)
        if local.minute == 0 and local.second == 0:
            out.append(local.isoformat())
        t += step
    return out


def main():
    args = parse_args(__doc__)
    checked = 0
    for zone in ZONES:
        for start in STARTS:
            got = cron_next(args.rouse, "0 * * * *", zone, start, COUNT)
            want = expected_hours(zone, start, COUNT)
            if got != want:
                first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w),
                             min(len(got), len(want)))
                check(False, "%s from %s: fire %d is %s, zoneinfo says %s"
                      % (zone, start, first, got[first:first + 1], want[first:first + 1]))
            checked += len(got)
    # The default policy past 2037: 02:30 does not exist in Berlin on 2038-03-28
    # and fires at the end of the gap (03:00 CEST), once.
    got = cron_next(args.rouse, "30 2 * * *", "Europe/Berlin", "2038-03-27T00:00:00Z", 3)
    check_eq(got, ["2038-03-27T02:30:00+01:00", "2038-03-28T03:00:00+02:00",
                   "2038-03-29T02:30:00+02:00"], "Berlin's 2038 spring-forward day")
    return "%d hourly fire times in %d zones up to %s match zoneinfo" % (
        checked, len(ZONES), want[-1][:4])


if __name__ == "__main__":
    run_test("cron_zones", main)
