// Tests cron schedules: the parser's accept/reject table with exact reasons,
// next() for each syntax element, the Vixie day rule, @every, DST policies in
// four zones (and the every-hour exception), leap years, impossible dates and
// the ISO 8601 helpers. Expected times were worked out by hand from the
// zones' 2026 transitions (docs/cron.md lists them).
#include "runtime/cron/schedule.hpp"
#include "runtime/cron/zone.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace rouse;

namespace {

cron::schedule make(std::string_view expr, const cron::options& opts = {}) {
  auto parsed = cron::schedule::parse(expr, opts);
  if (auto* reason = std::get_if<std::string>(&parsed))
    FAIL("parse(\"" << std::string(expr) << "\"): " << *reason);
  return std::get<cron::schedule>(parsed);
}

std::string reason(std::string_view expr, const cron::options& opts = {}) {
  auto parsed = cron::schedule::parse(expr, opts);
  if (auto* r = std::get_if<std::string>(&parsed))
    return *r;
  return "accepted";
}

int64_t at(std::string_view iso) {
  auto t = cron::parse_iso8601(iso);
  REQUIRE(t);
  return *t;
}

/// Returns up to `n` fire times after `from`, formatted in the schedule's
/// zone.
std::vector<std::string> fires(const cron::schedule& s, std::string_view from,
                               int n) {
  std::vector<std::string> out;
  int64_t t = at(from);
  for (int i = 0; i < n; ++i) {
    auto next = s.next(t);
    if (!next)
      break;
    out.push_back(s.format(*next));
    t = *next;
  }
  return out;
}

std::vector<std::string> fires(std::string_view expr, std::string_view from,
                               int n, const cron::options& opts = {}) {
  return fires(make(expr, opts), from, n);
}

cron::options zone(std::string tz,
                   cron::repeated_hour r = cron::repeated_hour::once,
                   cron::skipped_hour s = cron::skipped_hour::shift) {
  cron::options o;
  o.timezone = std::move(tz);
  o.repeated = r;
  o.skipped = s;
  return o;
}

using strings = std::vector<std::string>;
constexpr auto once = cron::repeated_hour::once;
constexpr auto twice = cron::repeated_hour::twice;
constexpr auto shift = cron::skipped_hour::shift;
constexpr auto skip = cron::skipped_hour::skip;

} // namespace

TEST_CASE("cron: parse accepts every documented form", "[runtime][cron]") {
  for (auto expr : {"* * * * *",
                    "0 0 * * *",
                    "*/15 9-17 * * MON-FRI",
                    "0 0 1 jan,JUL *",
                    "0 0 ? * sun",
                    "0 0 1 * ?",
                    "5,10-20/5,*/30 * * * *",
                    "10/20 * * * *",
                    "0 0 * * 0-7",
                    "0 0 * * FRI-SUN",
                    "0 0 0 1 1 *",
                    "*/5 * * * * *",
                    "  0   0 *\t* *  ",
                    "@yearly",
                    "@annually",
                    "@monthly",
                    "@weekly",
                    "@daily",
                    "@midnight",
                    "@hourly",
                    "@DAILY",
                    "@every 1h30m",
                    "@every 90s",
                    "@every 1.5h",
                    "@every 1500ms"}) {
    CAPTURE(expr);
    CHECK(reason(expr) == "accepted");
  }
}

TEST_CASE("cron: parse rejects bad expressions with the reason",
          "[runtime][cron]") {
  struct bad_case {
    const char* expr;
    const char* reason;
  };
  const bad_case cases[] = {
      {"", "empty expression"},
      {"   ", "empty expression"},
      {"61 * * * *", "minute field: 61 is out of range 0-59"},
      {"* 24 * * *", "hour field: 24 is out of range 0-23"},
      {"* * 0 * *", "day-of-month field: 0 is out of range 1-31"},
      {"* * 32 * *", "day-of-month field: 32 is out of range 1-31"},
      {"* * * 13 *", "month field: 13 is out of range 1-12"},
      {"* * * * 8", "day-of-week field: 8 is out of range 0-7"},
      {"60 * * * * *", "second field: 60 is out of range 0-59"},
      {"* * * *", "expected 5 fields (minute hour day-of-month month "
                  "day-of-week) or 6 (second first), got 4"},
      {"* * * * * * *", "expected 5 fields (minute hour day-of-month month "
                        "day-of-week) or 6 (second first), got 7"},
      {"5-1 * * * *", "minute field: range 5-1 is inverted"},
      {"* * * * FRI-MON", "day-of-week field: range FRI-MON is inverted"},
      {"*/0 * * * *", "minute field: step must be at least 1, got 0"},
      {"* 1-5/00 * * *", "hour field: step must be at least 1, got 00"},
      {"*/ * * * *", "minute field: missing step number after \"/\" in "
                     "\"*/\""},
      {"1,,2 * * * *", "minute field: empty list element"},
      {"1, * * * *", "minute field: empty list element"},
      {"5x * * * *", "minute field: unexpected \"x\" in \"5x\""},
      {"1-5-7 * * * *", "minute field: unexpected \"-7\" in \"1-5-7\""},
      {"1- * * * *", "minute field: missing value in \"1-\""},
      {"-1 * * * *", "minute field: unexpected \"-1\" in \"-1\""},
      {"MON * * * *", "minute field: unexpected \"MON\" in \"MON\""},
      {"? * * * *", "minute field: unexpected \"?\" in \"?\""},
      {"* * * JANUARY *",
       "month field: unknown name \"JANUARY\" in \"JANUARY\""},
      {"* * * * MON-XYZ",
       "day-of-week field: unknown name \"XYZ\" in \"MON-XYZ\""},
      {"* * ?/2 * *", "day-of-month field: unexpected \"/2\" after \"?\""},
      {"@reboot", "unknown macro \"@reboot\" (use @yearly, @annually, "
                  "@monthly, @weekly, @daily, @midnight, @hourly or @every)"},
      {"@daily 5", "@daily takes no fields, got \"5\""},
      {"@every", "@every: missing duration, e.g. @every 1h30m"},
      {"@every 500ms", "@every 500ms: interval must be at least 1s"},
      {"@every 1h 5m", "@every: unexpected \"5m\" after the duration"},
      {"@every 1x", "@every: invalid duration \"1x\" (a sequence of numbers "
                    "with units h, m, s, ms, us, ns, e.g. 1h30m)"},
      {"@every 10", "@every: invalid duration \"10\" (a sequence of numbers "
                    "with units h, m, s, ms, us, ns, e.g. 1h30m)"},
      {"@every 99999999999999h",
       "@every: duration \"99999999999999h\" is too large"},
  };
  for (auto& c : cases) {
    CAPTURE(c.expr);
    CHECK(reason(c.expr) == c.reason);
  }
  CHECK(reason("* * * * *", zone("Europe/Berln"))
        == "unknown time zone \"Europe/Berln\"");
}

TEST_CASE("cron: next follows each syntax element", "[runtime][cron]") {
  const char* from = "2026-01-01T00:00:00Z"; // a Thursday
  SECTION("wildcards and numbers") {
    CHECK(fires("* * * * *", from, 2)
          == strings{"2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00"});
    CHECK(fires("30 12 * * *", from, 2)
          == strings{"2026-01-01T12:30:00+00:00", "2026-01-02T12:30:00+00:00"});
  }
  SECTION("ranges, steps and lists") {
    CHECK(fires("5-20/5 1 * * *", from, 5)
          == strings{"2026-01-01T01:05:00+00:00", "2026-01-01T01:10:00+00:00",
                     "2026-01-01T01:15:00+00:00", "2026-01-01T01:20:00+00:00",
                     "2026-01-02T01:05:00+00:00"});
    CHECK(fires("10/20 0 * * *", from, 4)
          == strings{"2026-01-01T00:10:00+00:00", "2026-01-01T00:30:00+00:00",
                     "2026-01-01T00:50:00+00:00", "2026-01-02T00:10:00+00:00"});
    CHECK(fires("*/90 */25 * * *", from, 2)
          == strings{"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"});
    CHECK(fires("0 */8 * * *", from, 3)
          == strings{"2026-01-01T08:00:00+00:00", "2026-01-01T16:00:00+00:00",
                     "2026-01-02T00:00:00+00:00"});
    CHECK(fires("1,2-3,*/30 0 * * *", from, 5)
          == strings{"2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00",
                     "2026-01-01T00:03:00+00:00", "2026-01-01T00:30:00+00:00",
                     "2026-01-02T00:00:00+00:00"});
  }
  SECTION("month and day names, Sunday as 0 and 7") {
    CHECK(fires("0 0 1 JAN,jul *", from, 2)
          == strings{"2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"});
    CHECK(fires("0 0 * mar-APR/1 *", from, 1)
          == strings{"2026-03-01T00:00:00+00:00"});
    CHECK(fires("0 0 * * 7", from, 2)
          == strings{"2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"});
    CHECK(fires("0 0 * * 0", from, 1) == strings{"2026-01-04T00:00:00+00:00"});
    CHECK(fires("0 0 * * FRI-SUN", from, 4)
          == strings{"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00",
                     "2026-01-04T00:00:00+00:00", "2026-01-09T00:00:00+00:00"});
    // "1/2" is 1-7/2: Monday, Wednesday, Friday and (7) Sunday.
    CHECK(fires("0 0 * * 1/2", from, 4)
          == strings{"2026-01-02T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
                     "2026-01-05T00:00:00+00:00", "2026-01-07T00:00:00+00:00"});
    CHECK(fires("0 0 ? * SAT", from, 1)
          == strings{"2026-01-03T00:00:00+00:00"});
  }
  SECTION("seconds field comes first in 6 fields") {
    CHECK(fires("*/20 * * * * *", from, 4)
          == strings{"2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00",
                     "2026-01-01T00:01:00+00:00", "2026-01-01T00:01:20+00:00"});
    CHECK(fires("30 0 12 * * *", from, 2)
          == strings{"2026-01-01T12:00:30+00:00", "2026-01-02T12:00:30+00:00"});
    // From a time with a fraction, the next whole matching second.
    CHECK(make("* * * * * *").next(at("2026-01-01T00:00:00.5Z"))
          == at("2026-01-01T00:00:01Z"));
  }
  SECTION("macros") {
    CHECK(fires("@yearly", from, 1) == strings{"2027-01-01T00:00:00+00:00"});
    CHECK(fires("@monthly", from, 1) == strings{"2026-02-01T00:00:00+00:00"});
    CHECK(fires("@weekly", from, 1) == strings{"2026-01-04T00:00:00+00:00"});
    CHECK(fires("@daily", from, 1) == strings{"2026-01-02T00:00:00+00:00"});
    CHECK(fires("@hourly", from, 1) == strings{"2026-01-01T01:00:00+00:00"});
  }
}

TEST_CASE("cron: both restricted day fields match either (Vixie rule)",
          "[runtime][cron]") {
  const char* from = "2026-01-01T00:00:00Z";
  // The 13th or any Friday.
  CHECK(fires("0 0 13 * 5", from, 4)
        == strings{"2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00",
                   "2026-01-13T00:00:00+00:00", "2026-01-16T00:00:00+00:00"});
  // A day field starting with `*` is not restricted: odd days that are
  // Fridays.
  CHECK(fires("0 0 */2 * 5", from, 3)
        == strings{"2026-01-09T00:00:00+00:00", "2026-01-23T00:00:00+00:00",
                   "2026-02-13T00:00:00+00:00"});
  CHECK(fires("0 0 1 * *", from, 1) == strings{"2026-02-01T00:00:00+00:00"});
}

TEST_CASE("cron: @every fires at multiples of the interval since the epoch",
          "[runtime][cron]") {
  auto s = make("@every 90s");
  CHECK(s.is_interval());
  CHECK(s.interval() == std::chrono::seconds{90});
  CHECK(s.next(0) == int64_t{90'000'000'000});
  CHECK(s.next(89'999'999'999) == int64_t{90'000'000'000});
  CHECK(s.next(90'000'000'000) == int64_t{180'000'000'000});
  CHECK(s.next(-1) == int64_t{0});
  CHECK(!make("* * * * *").is_interval());
  CHECK(make("@every 1h30m").interval() == std::chrono::minutes{90});
  CHECK(make("@every 1.5h").interval() == std::chrono::minutes{90});
  // 2026-01-01T00:00:00Z is a multiple of 5400 s, in every zone.
  CHECK(fires("@every 1h30m", "2026-01-01T00:00:00Z", 2, zone("Europe/Berlin"))
        == strings{"2026-01-01T02:30:00+01:00", "2026-01-01T04:00:00+01:00"});
  CHECK(fires("@every 1500ms", "2026-01-01T00:00:00Z", 2)
        == strings{"2026-01-01T00:00:01.5+00:00", "2026-01-01T00:00:03+00:00"});
  CHECK(!make("@every 2h").next(std::numeric_limits<int64_t>::max()));
}

TEST_CASE("cron: spring-forward gaps follow the skipped policy",
          "[runtime][cron]") {
  SECTION("Europe/Berlin, 2026-03-29 02:00 -> 03:00") {
    const char* from = "2026-03-28T00:00:00+01:00";
    CHECK(fires("30 2 * * *", from, 3, zone("Europe/Berlin", once, shift))
          == strings{"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00",
                     "2026-03-30T02:30:00+02:00"});
    CHECK(fires("30 2 * * *", from, 3, zone("Europe/Berlin", once, skip))
          == strings{"2026-03-28T02:30:00+01:00", "2026-03-30T02:30:00+02:00",
                     "2026-03-31T02:30:00+02:00"});
    // Several nonexistent matches in one gap collapse into one fire, also
    // with a real 03:00 match at the same instant.
    CHECK(fires("*/15 2 29 3 *", from, 2, zone("Europe/Berlin"))
          == strings{"2026-03-29T03:00:00+02:00", "2027-03-29T02:00:00+02:00"});
    CHECK(fires("0 2,3 29 3 *", from, 2, zone("Europe/Berlin"))
          == strings{"2026-03-29T03:00:00+02:00", "2027-03-29T02:00:00+02:00"});
    CHECK(fires("0 2,3 29 3 *", from, 2, zone("Europe/Berlin", once, skip))
          == strings{"2026-03-29T03:00:00+02:00", "2027-03-29T02:00:00+02:00"});
  }
  SECTION("America/New_York, 2026-03-08 02:00 -> 03:00") {
    const char* from = "2026-03-07T12:00:00-05:00";
    CHECK(fires("30 2 * * *", from, 2, zone("America/New_York"))
          == strings{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"});
    CHECK(fires("30 2 * * *", from, 1, zone("America/New_York", once, skip))
          == strings{"2026-03-09T02:30:00-04:00"});
  }
  SECTION("Australia/Sydney, 2026-10-04 02:00 -> 03:00") {
    const char* from = "2026-10-03T12:00:00+10:00";
    CHECK(fires("30 2 * * *", from, 2, zone("Australia/Sydney"))
          == strings{"2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"});
    CHECK(fires("30 2 * * *", from, 1, zone("Australia/Sydney", once, skip))
          == strings{"2026-10-05T02:30:00+11:00"});
  }
  SECTION("Australia/Lord_Howe, 2026-10-04 02:00 -> 02:30") {
    const char* from = "2026-10-03T12:00:00+10:30";
    CHECK(fires("15 2 * * *", from, 2, zone("Australia/Lord_Howe"))
          == strings{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"});
    CHECK(fires("15 2 * * *", from, 1, zone("Australia/Lord_Howe", once, skip))
          == strings{"2026-10-05T02:15:00+11:00"});
  }
  SECTION("every-hour schedules never fire nonexistent times") {
    for (auto policy : {shift, skip}) {
      CHECK(fires("30 * * * *", "2026-03-29T00:00:00+01:00", 4,
                  zone("Europe/Berlin", once, policy))
            == strings{"2026-03-29T00:30:00+01:00", "2026-03-29T01:30:00+01:00",
                       "2026-03-29T03:30:00+02:00",
                       "2026-03-29T04:30:00+02:00"});
      CHECK(
          fires("15 */1 * * *", "2026-10-04T01:00:00+10:30", 2,
                zone("Australia/Lord_Howe", once, policy))
          == strings{"2026-10-04T01:15:00+10:30", "2026-10-04T03:15:00+11:00"});
      CHECK(fires("45 0-23 * * *", "2026-10-04T01:00:00+10:30", 3,
                  zone("Australia/Lord_Howe", once, policy))
            == strings{"2026-10-04T01:45:00+10:30", "2026-10-04T02:45:00+11:00",
                       "2026-10-04T03:45:00+11:00"});
    }
  }
}

TEST_CASE("cron: fall-back repeats follow the repeated policy",
          "[runtime][cron]") {
  SECTION("Europe/Berlin, 2026-10-25 03:00 -> 02:00") {
    const char* from = "2026-10-24T12:00:00+02:00";
    CHECK(fires("30 2 * * *", from, 2, zone("Europe/Berlin", once))
          == strings{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"});
    CHECK(fires("30 2 * * *", from, 3, zone("Europe/Berlin", twice))
          == strings{"2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00",
                     "2026-10-26T02:30:00+01:00"});
    CHECK(fires("*/20 2 * * *", from, 4, zone("Europe/Berlin", once))
          == strings{"2026-10-25T02:00:00+02:00", "2026-10-25T02:20:00+02:00",
                     "2026-10-25T02:40:00+02:00", "2026-10-26T02:00:00+01:00"});
    CHECK(fires("*/20 2 * * *", from, 6, zone("Europe/Berlin", twice))
          == strings{"2026-10-25T02:00:00+02:00", "2026-10-25T02:20:00+02:00",
                     "2026-10-25T02:40:00+02:00", "2026-10-25T02:00:00+01:00",
                     "2026-10-25T02:20:00+01:00", "2026-10-25T02:40:00+01:00"});
    // Starting inside the second occurrence: with `once` it is not fired.
    CHECK(fires("30 2 * * *", "2026-10-25T02:10:00+01:00", 1,
                zone("Europe/Berlin", once))
          == strings{"2026-10-26T02:30:00+01:00"});
    CHECK(fires("30 2 * * *", "2026-10-25T02:10:00+01:00", 1,
                zone("Europe/Berlin", twice))
          == strings{"2026-10-25T02:30:00+01:00"});
  }
  SECTION("America/New_York, 2026-11-01 02:00 -> 01:00") {
    const char* from = "2026-10-31T12:00:00-04:00";
    CHECK(fires("30 1 * * *", from, 2, zone("America/New_York", once))
          == strings{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"});
    CHECK(fires("30 1 * * *", from, 3, zone("America/New_York", twice))
          == strings{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00",
                     "2026-11-02T01:30:00-05:00"});
  }
  SECTION("Australia/Sydney, 2026-04-05 03:00 -> 02:00") {
    const char* from = "2026-04-04T12:00:00+11:00";
    CHECK(fires("30 2 * * *", from, 2, zone("Australia/Sydney", once))
          == strings{"2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"});
    CHECK(fires("30 2 * * *", from, 3, zone("Australia/Sydney", twice))
          == strings{"2026-04-05T02:30:00+11:00", "2026-04-05T02:30:00+10:00",
                     "2026-04-06T02:30:00+10:00"});
  }
  SECTION("Australia/Lord_Howe, 2026-04-05 02:00 -> 01:30") {
    const char* from = "2026-04-04T12:00:00+11:00";
    CHECK(fires("45 1 * * *", from, 2, zone("Australia/Lord_Howe", once))
          == strings{"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"});
    CHECK(fires("45 1 * * *", from, 3, zone("Australia/Lord_Howe", twice))
          == strings{"2026-04-05T01:45:00+11:00", "2026-04-05T01:45:00+10:30",
                     "2026-04-06T01:45:00+10:30"});
    // 01:15 is before the repeated half hour: once a day.
    CHECK(fires("15 1 * * *", from, 2, zone("Australia/Lord_Howe", twice))
          == strings{"2026-04-05T01:15:00+11:00", "2026-04-06T01:15:00+10:30"});
  }
  SECTION("every-hour schedules fire both occurrences") {
    for (auto policy : {once, twice}) {
      CHECK(fires("30 * * * *", "2026-10-25T01:00:00+02:00", 4,
                  zone("Europe/Berlin", policy))
            == strings{"2026-10-25T01:30:00+02:00", "2026-10-25T02:30:00+02:00",
                       "2026-10-25T02:30:00+01:00",
                       "2026-10-25T03:30:00+01:00"});
      CHECK(fires("@hourly", "2026-11-01T00:30:00-04:00", 3,
                  zone("America/New_York", policy))
            == strings{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00",
                       "2026-11-01T02:00:00-05:00"});
    }
  }
}

TEST_CASE("cron: half-hour zones match local wall time", "[runtime][cron]") {
  CHECK(fires("0 9 * * *", "2026-01-01T00:00:00Z", 1, zone("Asia/Kolkata"))
        == strings{"2026-01-01T09:00:00+05:30"});
  CHECK(fires("0 9 * * *", "2026-01-01T00:00:00Z", 1, zone("America/St_Johns"))
        == strings{"2026-01-01T09:00:00-03:30"});
  CHECK(fires("30 2 * * *", "2026-03-07T12:00:00-03:30", 2,
              zone("America/St_Johns"))
        == strings{"2026-03-08T03:00:00-02:30", "2026-03-09T02:30:00-02:30"});
}

TEST_CASE("cron: leap days and impossible dates", "[runtime][cron]") {
  CHECK(fires("0 0 29 2 *", "2026-01-01T00:00:00Z", 2)
        == strings{"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"});
  // 2100 is not a leap year: eight years between leap days.
  CHECK(fires("0 0 29 2 *", "2096-03-01T00:00:00Z", 1)
        == strings{"2104-02-29T00:00:00+00:00"});
  for (auto expr : {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 0 31 2 *"}) {
    CAPTURE(expr);
    auto s = make(expr, zone("Europe/Berlin"));
    CHECK(!s.next(at("2026-01-01T00:00:00Z")));
  }
  CHECK(fires("0 0 31 * *", "2026-01-31T00:00:00Z", 2)
        == strings{"2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00"});
}

TEST_CASE("cron: ISO 8601 parsing and formatting round-trip",
          "[runtime][cron]") {
  constexpr int64_t s = 1'000'000'000;
  CHECK(cron::parse_iso8601("2026-03-29T01:30:00+01:00")
        == int64_t{1774744200} * s);
  CHECK(cron::parse_iso8601("2026-03-29T00:30:00Z") == int64_t{1774744200} * s);
  CHECK(cron::parse_iso8601("2026-03-29T00:30:00z") == int64_t{1774744200} * s);
  CHECK(cron::parse_iso8601("2026-03-29T03:30:00+0300")
        == int64_t{1774744200} * s);
  CHECK(cron::parse_iso8601("2026-03-29T00:30:00.5Z")
        == int64_t{1774744200} * s + 500'000'000);
  CHECK(cron::parse_iso8601("2026-03-29T00:30:00.000000001Z")
        == int64_t{1774744200} * s + 1);
  CHECK(cron::parse_iso8601("2026-03-29T01:30:00", "Europe/Berlin")
        == int64_t{1774744200} * s);
  CHECK(cron::parse_iso8601("2026-03-29T00:30", "UTC")
        == int64_t{1774744200} * s);
  CHECK(cron::parse_iso8601("1970-01-01") == int64_t{0});
  // A skipped local time is the instant after the gap; a repeated one its
  // first occurrence.
  CHECK(cron::parse_iso8601("2026-03-29T02:30:00", "Europe/Berlin")
        == cron::parse_iso8601("2026-03-29T01:00:00Z"));
  CHECK(cron::parse_iso8601("2026-10-25T02:30:00", "Europe/Berlin")
        == cron::parse_iso8601("2026-10-25T00:30:00Z"));
  for (auto bad :
       {"", "garbage", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-03-29T24:00:00Z", "2026-03-29T01:30:00+01:00x",
        "2026-03-29T01:30:00.1234567891Z", "2026-03-29T01:30:00.Z",
        "2026-03-29T01:30:00+1", "2026-3-29T01:30:00Z",
        "2026-03-29X01:30:00Z"}) {
    CAPTURE(bad);
    CHECK(!cron::parse_iso8601(bad));
  }
  CHECK(!cron::parse_iso8601("2026-03-29T01:30:00", "Mars/Olympus"));

  auto berlin = make("* * * * *", zone("Europe/Berlin"));
  CHECK(berlin.format(int64_t{1774744200} * s) == "2026-03-29T01:30:00+01:00");
  CHECK(berlin.format(int64_t{1774744200} * s + 250'000'000)
        == "2026-03-29T01:30:00.25+01:00");
  CHECK(make("* * * * *").format(0) == "1970-01-01T00:00:00+00:00");
  CHECK(make("* * * * *").format(-1) == "1969-12-31T23:59:59.999999999+00:00");
  CHECK(make("* * * * *", zone("Asia/Kolkata")).format(0)
        == "1970-01-01T05:30:00+05:30");
  for (auto text :
       {"2026-03-29T03:00:00+02:00", "2026-10-25T02:30:00+01:00",
        "2026-10-25T02:30:00+02:00", "2026-03-29T01:59:59.5+01:00"}) {
    auto t = cron::parse_iso8601(text);
    REQUIRE(t);
    CHECK(berlin.format(*t) == text);
  }
  CHECK(berlin.text() == "* * * * *");
  CHECK(berlin.opts().timezone == "Europe/Berlin");
}

TEST_CASE("cron: schedules are cheap values usable from many threads",
          "[runtime][cron]") {
  auto a = make("*/7 1-3 * * MON-FRI", zone("America/New_York", twice, skip));
  auto b = a; // a copy shares the zone pointer and compares equal in answers
  const int64_t start = at("2026-10-30T00:00:00Z");
  std::vector<int64_t> expected;
  for (int64_t t = start; expected.size() < 200;)
    expected.push_back(t = *a.next(t));
  std::vector<std::vector<int64_t>> seen(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&, i] {
      const auto& s = i % 2 == 0 ? a : b;
      for (int64_t t = start; seen[i].size() < 200;)
        seen[i].push_back(t = *s.next(t));
    });
  for (auto& t : threads)
    t.join();
  for (auto& v : seen)
    CHECK(v == expected);
  // Both day fields restricted: February 29 or any Monday in February.
  auto rare = make("0 0 0 29 2 1", zone("Europe/Berlin"));
  CHECK(rare.format(*rare.next(at("2026-01-01T00:00:00Z")))
        == "2026-02-02T00:00:00+01:00");
}

TEST_CASE("cron: POSIX TZ rules parse as zone file footers write them",
          "[runtime][cron]") {
  auto berlin = cron::posix_rule::parse("CET-1CEST,M3.5.0,M10.5.0/3");
  REQUIRE(berlin);
  CHECK(berlin->std_offset == 3600);
  CHECK(berlin->has_dst);
  CHECK(berlin->dst_offset == 7200);
  CHECK(berlin->start.month == 3);
  CHECK(berlin->start.week == 5);
  CHECK(berlin->start.weekday == 0);
  CHECK(berlin->start.time_s == 7200);
  CHECK(berlin->end.time_s == 3 * 3600);
  auto lord_howe =
      cron::posix_rule::parse("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
  REQUIRE(lord_howe);
  CHECK(lord_howe->std_offset == 37800);
  CHECK(lord_howe->dst_offset == 39600);
  auto nuuk = cron::posix_rule::parse("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
  REQUIRE(nuuk);
  CHECK(nuuk->std_offset == -7200);
  CHECK(nuuk->start.time_s == -3600);
  auto kathmandu = cron::posix_rule::parse("<+0545>-5:45");
  REQUIRE(kathmandu);
  CHECK_FALSE(kathmandu->has_dst);
  CHECK(kathmandu->std_offset == 5 * 3600 + 45 * 60);
  auto ny = cron::posix_rule::parse("EST5EDT"); // no rule: the US one
  REQUIRE(ny);
  CHECK(ny->dst_offset == -4 * 3600);
  CHECK(ny->start.month == 3);
  for (const char* bad :
       {"", "CET", "C-1", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.5.0",
        "CET-1CEST,M3.5.0,M10.5.0/x", "<+01-1", "CET-1CEST,J0,J365", "CET-200"})
    CHECK_FALSE(cron::posix_rule::parse(bad));
}

TEST_CASE("cron: a POSIX TZ rule gives the periods of a year",
          "[runtime][cron]") {
  auto berlin = cron::posix_rule::parse("CET-1CEST,M3.5.0,M10.5.0/3");
  REQUIRE(berlin);
  // 2050-07-01T00:00Z is in summer time, from the last Sunday of March
  // (01:00 UTC) to the last Sunday of October (01:00 UTC), as zoneinfo says.
  auto summer = cron::period_of(*berlin, 2540246400);
  CHECK(summer.offset == 7200);
  CHECK(summer.begin == 2531955600);
  CHECK(summer.end == 2550704400);
  auto winter = cron::period_of(*berlin, 2550704400);
  CHECK(winter.offset == 3600);
  CHECK(winter.begin == 2550704400);
  // Southern hemisphere: summer time spans the new year.
  auto sydney = cron::posix_rule::parse("AEST-10AEDT,M10.1.0,M4.1.0/3");
  REQUIRE(sydney);
  CHECK(cron::period_of(*sydney, 2524608000).offset == 11 * 3600); // 2050-01
  CHECK(cron::period_of(*sydney, 2540246400).offset == 10 * 3600); // 2050-07
}

TEST_CASE("cron: zones keep their DST rules after 2037", "[runtime][cron]") {
  cron::options berlin_opts;
  berlin_opts.timezone = "Europe/Berlin";
  auto sched = make("0 12 1 7 *", berlin_opts);
  auto from = cron::parse_iso8601("2037-01-01T00:00:00Z");
  REQUIRE(from);
  auto first = sched.next(*from);
  REQUIRE(first);
  CHECK(sched.format(*first) == "2037-07-01T12:00:00+02:00");
  auto second = sched.next(*first);
  REQUIRE(second);
  CHECK(sched.format(*second) == "2038-07-01T12:00:00+02:00");
  // Local times in 2038's spring-forward gap map to its end.
  auto gap = cron::parse_iso8601("2038-03-28T02:30:00", "Europe/Berlin");
  REQUIRE(gap);
  CHECK(*gap == *cron::parse_iso8601("2038-03-28T01:00:00Z"));
  // A repeated local time maps to its first occurrence.
  auto twice = cron::parse_iso8601("2040-10-28T02:30:00", "Europe/Berlin");
  REQUIRE(twice);
  CHECK(*twice == *cron::parse_iso8601("2040-10-28T00:30:00Z"));
}
