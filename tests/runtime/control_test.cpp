// Tests the $ROUSE_CONTROL protocol: each key read into the outcome, and every
// malformed document rejected with its reason and without changing the
// outcome.
#include "runtime/control/control.hpp"

#include <catch2/catch.hpp>

using namespace rouse;

// run_outcome has no operator==; compare the fields apply() may touch.
namespace rouse {
bool operator==(const run_outcome& a, const run_outcome& b) {
  return a.ok == b.ok && a.wait_kind == b.wait_kind
         && a.wait_due_ns == b.wait_due_ns && a.wait_pattern == b.wait_pattern
         && a.wait_since_now == b.wait_since_now && a.state == b.state
         && a.cost == b.cost;
}
} // namespace rouse

namespace {

constexpr int64_t now = 1'800'000'000'000'000'000; // 2027-01-15T08:00:00Z
constexpr int64_t second = 1'000'000'000;

run_outcome ok_outcome() {
  run_outcome o;
  o.ok = true;
  o.exit_code = 0;
  return o;
}

std::string rejected(std::string_view text) {
  auto o = ok_outcome();
  auto err = control::apply(text, now, o);
  REQUIRE(err);
  CHECK(o == ok_outcome());
  return describe(err);
}

} // namespace

TEST_CASE("an empty control file asks for nothing") {
  for (auto text : {"", "  \n", "\t"}) {
    auto o = ok_outcome();
    CHECK_FALSE(control::apply(text, now, o));
    CHECK(o == ok_outcome());
  }
}

TEST_CASE("sleep wakes after the duration, with the state") {
  auto o = ok_outcome();
  REQUIRE_FALSE(control::apply(R"({"sleep": "5m", "state": {"step": 2,
    "items": [1, "two"]}})",
                               now, o));
  CHECK(o.wait_kind == 1);
  CHECK(o.wait_due_ns == now + 300 * second);
  CHECK(o.state == R"({"step":2,"items":[1,"two"]})");
  CHECK(o.cost < 0);
}

TEST_CASE("sleep_until takes an ISO 8601 time; a past one wakes at once") {
  auto o = ok_outcome();
  REQUIRE_FALSE(control::apply(
      R"({"sleep_until": "2027-01-15T09:00:00+01:00"})", now, o));
  CHECK(o.wait_kind == 1);
  CHECK(o.wait_due_ns == now); // 09:00+01:00 is 08:00Z
  o = ok_outcome();
  REQUIRE_FALSE(
      control::apply(R"({"sleep_until": "2027-01-15T08:00:30Z"})", now, o));
  CHECK(o.wait_due_ns == now + 30 * second);
  o = ok_outcome();
  REQUIRE_FALSE(
      control::apply(R"({"sleep_until": "2020-01-01T00:00:00Z"})", now, o));
  CHECK(o.wait_due_ns == now);
}

TEST_CASE("wait_for keeps the pattern, the timeout and where to look from") {
  auto o = ok_outcome();
  REQUIRE_FALSE(control::apply(
      R"({"wait_for": {"pattern": {"type": ["deploy.finished"],
          "data": {"id": [7]}}, "timeout": "1h"}, "state": "s"})",
      now, o));
  CHECK(o.wait_kind == 2);
  CHECK(o.wait_pattern == R"({"type":["deploy.finished"],"data":{"id":[7]}})");
  CHECK(o.wait_due_ns == now + 3600 * second);
  CHECK_FALSE(o.wait_since_now);
  CHECK(o.state == R"("s")");

  o = ok_outcome();
  REQUIRE_FALSE(control::apply(
      R"({"wait_for": {"pattern": {"type": ["x"]}, "since": "now"}})", now, o));
  CHECK(o.wait_due_ns == 0);
  CHECK(o.wait_since_now);
}

TEST_CASE("cost is reported without waiting") {
  auto o = ok_outcome();
  REQUIRE_FALSE(control::apply(R"({"cost": 0.42})", now, o));
  CHECK(o.cost == Approx(0.42));
  CHECK(o.wait_kind == 0);
}

TEST_CASE("malformed control documents are rejected with the reason") {
  CHECK(rejected("not json").starts_with("control file: not JSON"));
  CHECK(rejected("[1]") == "control file: must be a JSON object");
  CHECK(rejected(R"({"sleep": 5})")
        == "control file: sleep must be a duration string such as \"5m\"");
  CHECK(rejected(R"({"sleep": "soon"})").starts_with("control file: sleep: "));
  CHECK(rejected(R"({"sleep_until": "tomorrow"})")
        == "control file: sleep_until: \"tomorrow\" is not an ISO 8601 time "
           "such as 2026-12-01T09:00:00Z");
  CHECK(rejected(R"({"sleep": "1s", "wait_for": {"pattern": {}}})")
        == "control file: at most one of sleep, sleep_until and wait_for");
  CHECK(rejected(R"({"wait_for": {"timeout": "1h"}})")
        == "control file: wait_for needs a pattern");
  CHECK(rejected(R"({"wait_for": {"pattern": [1]}})")
        == "control file: wait_for.pattern must be a JSON object");
  CHECK(rejected(R"({"wait_for": {"pattern": {"type": "x"}}})")
            .starts_with("control file: wait_for.pattern.type"));
  CHECK(rejected(R"({"wait_for": {"pattern": {}, "since": "then"}})")
        == "control file: wait_for.since must be \"run_start\" or \"now\"");
  CHECK(rejected(R"({"wait_for": {"pattern": {}, "until": 1}})")
        == "control file: unknown key wait_for.until (expected pattern, "
           "timeout, since)");
  CHECK(rejected(R"({"cost": -1})")
        == "control file: cost must be a non-negative number");
  CHECK(rejected(R"({"sleeep": "1s"})")
        == "control file: unknown key \"sleeep\" (expected sleep, "
           "sleep_until, wait_for, state, cost)");
  CHECK(rejected(std::string(control::max_control_bytes + 1, ' ') + "{}")
            .starts_with("control file: larger than"));
}
