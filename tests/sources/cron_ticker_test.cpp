// The cron source's decisions on virtual time: no clock and no sleeps, the
// test hands the ticker each "now" and whether the previous tick's runs are
// unfinished. Covers every overlap and catch-up policy, the catch-up window,
// jitter, and a long downtime of a frequent schedule.
#include "sources/cron/ticker.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <variant>

using namespace rouse::sources::cron;
namespace rc = rouse::cron;

namespace {

constexpr int64_t sec = 1'000'000'000;
constexpr int64_t minute = 60 * sec;
constexpr int64_t hour = 60 * minute;
// 2026-11-22T00:00:00Z
constexpr int64_t t0 = 1'795'305'600LL * sec;

rc::schedule parse(std::string_view expr) {
  auto s = rc::schedule::parse(expr);
  REQUIRE(std::holds_alternative<rc::schedule>(s));
  return std::get<rc::schedule>(s);
}

ticker make(std::string_view expr, ticker_policy p = {}) {
  ticker t{"nightly", parse(expr), p};
  auto first = t.advance(t0, false); // starts the schedule at t0
  REQUIRE(first.empty());
  return t;
}

std::vector<int64_t> nominals(const std::vector<tick_fire>& fires) {
  std::vector<int64_t> out;
  for (const auto& f : fires)
    out.push_back(f.nominal_ns);
  return out;
}

tick_outcome last_outcome(const ticker& t) {
  return static_cast<tick_outcome>(t.state().recent.back().outcome);
}

} // namespace

TEST_CASE("the first start owes nothing; then ticks fire when due") {
  auto t = make("*/5 * * * *");
  CHECK(t.next_due() == t0 + 5 * minute);
  CHECK(t.advance(t0 + 5 * minute - 1, false).empty());
  auto fires = t.advance(t0 + 5 * minute, false);
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].nominal_ns == t0 + 5 * minute);
  CHECK_FALSE(fires[0].catchup);
  CHECK(t.next_due() == t0 + 10 * minute);
  t.fired(t0 + 5 * minute, 42);
  CHECK(t.state().last_fired_seq == 42);
  CHECK(t.state().recent.back().event_seq == 42);
  CHECK(t.state().fired == 1);
}

TEST_CASE("overlap skip: a tick while the previous runs are unfinished") {
  auto t = make("* * * * *");
  CHECK(t.advance(t0 + minute, false).size() == 1);
  CHECK(t.advance(t0 + 2 * minute, true).empty());
  CHECK(last_outcome(t) == tick_outcome::skipped_overlap);
  CHECK(t.advance(t0 + 3 * minute, false).size() == 1);
  CHECK(t.state().fired == 2);
  CHECK(t.state().skipped == 1);
}

TEST_CASE("overlap buffer_one keeps one tick and fires it when free") {
  ticker_policy p;
  p.overlap = overlap_policy::buffer_one;
  auto t = make("* * * * *", p);
  CHECK(t.advance(t0 + minute, false).size() == 1);
  CHECK(t.advance(t0 + 2 * minute, true).empty());
  CHECK(last_outcome(t) == tick_outcome::buffered);
  CHECK(t.advance(t0 + 3 * minute, true).empty());
  CHECK(last_outcome(t) == tick_outcome::skipped_overlap);
  // The previous run finishes between ticks: the buffered one fires at once.
  auto fires = t.advance(t0 + 3 * minute + 10 * sec, false);
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].nominal_ns == t0 + 2 * minute);
  CHECK(fires[0].from_buffer);
  CHECK(t.state().buffered.empty());
  CHECK(t.state().skipped == 1);
}

TEST_CASE("overlap buffer_all fires every tick, one after another") {
  ticker_policy p;
  p.overlap = overlap_policy::buffer_all;
  auto t = make("* * * * *", p);
  CHECK(t.advance(t0 + minute, false).size() == 1);
  for (int i = 2; i <= 4; ++i)
    CHECK(t.advance(t0 + i * minute, true).empty());
  CHECK(t.state().buffered.size() == 3);
  std::vector<int64_t> order;
  for (int i = 0; i < 3; ++i) {
    auto fires = t.advance(t0 + 4 * minute + (i + 1) * sec, false);
    REQUIRE(fires.size() == 1);
    order.push_back(fires[0].nominal_ns);
    // Its run is now active: nothing else fires until it finishes.
    CHECK(t.advance(t0 + 4 * minute + (i + 1) * sec, true).empty());
  }
  CHECK(order
        == std::vector<int64_t>{t0 + 2 * minute, t0 + 3 * minute,
                                t0 + 4 * minute});
  CHECK(t.state().skipped == 0);
}

TEST_CASE("overlap cancel_other fires and asks to cancel the previous runs") {
  ticker_policy p;
  p.overlap = overlap_policy::cancel_other;
  auto t = make("* * * * *", p);
  auto first = t.advance(t0 + minute, false);
  REQUIRE(first.size() == 1);
  CHECK_FALSE(first[0].cancel_previous);
  auto second = t.advance(t0 + 2 * minute, true);
  REQUIRE(second.size() == 1);
  CHECK(second[0].cancel_previous);
}

TEST_CASE("overlap allow_all fires regardless") {
  ticker_policy p;
  p.overlap = overlap_policy::allow_all;
  auto t = make("* * * * *", p);
  for (int i = 1; i <= 3; ++i)
    CHECK(t.advance(t0 + i * minute, true).size() == 1);
  CHECK(t.state().fired == 3);
}

TEST_CASE("catch-up after downtime: none, last and all") {
  // Hourly; the host was down from 00:30 to 05:30: 01:00..05:00 are late.
  const int64_t back = t0 + 5 * hour + 30 * minute;
  SECTION("none: every late tick is missed") {
    ticker_policy p;
    p.catchup = catchup_policy::none;
    auto t = make("0 * * * *", p);
    CHECK(t.advance(back, false).empty());
    CHECK(t.state().missed == 5);
    CHECK(t.next_due() == t0 + 6 * hour);
  }
  SECTION("last (default): only the newest late tick fires") {
    auto t = make("0 * * * *");
    auto fires = t.advance(back, false);
    CHECK(nominals(fires) == std::vector<int64_t>{t0 + 5 * hour});
    CHECK(fires[0].catchup);
    CHECK(t.state().missed == 4);
  }
  SECTION("all with allow_all: every late tick fires, oldest first") {
    ticker_policy p;
    p.catchup = catchup_policy::all;
    p.overlap = overlap_policy::allow_all;
    auto t = make("0 * * * *", p);
    auto fires = t.advance(back, false);
    CHECK(nominals(fires)
          == std::vector<int64_t>{t0 + hour, t0 + 2 * hour, t0 + 3 * hour,
                                  t0 + 4 * hour, t0 + 5 * hour});
    CHECK(t.state().missed == 0);
  }
  SECTION("all with buffer_all: the first fires, the rest wait their turn") {
    ticker_policy p;
    p.catchup = catchup_policy::all;
    p.overlap = overlap_policy::buffer_all;
    auto t = make("0 * * * *", p);
    CHECK(t.advance(back, false).size() == 1);
    CHECK(t.state().buffered.size() == 4);
  }
  SECTION("all respects catchup_max (the newest) and the window") {
    ticker_policy p;
    p.catchup = catchup_policy::all;
    p.overlap = overlap_policy::allow_all;
    p.catchup_max = 2;
    p.catchup_window = std::chrono::hours{3} + std::chrono::minutes{45};
    auto t = make("0 * * * *", p);
    auto fires = t.advance(back, false);
    // The window starts at 01:45: 01:00 is too old; of 02..05, the newest 2.
    CHECK(nominals(fires)
          == std::vector<int64_t>{t0 + 4 * hour, t0 + 5 * hour});
    CHECK(t.state().missed == 3);
  }
  SECTION("last fires nothing late when an on-time tick follows") {
    auto t = make("*/10 * * * *");
    // Down from 00:05 to 01:00:30: 00:10..00:50 are late, 01:00 is on time.
    auto fires = t.advance(t0 + hour + 30 * sec, false);
    CHECK(nominals(fires) == std::vector<int64_t>{t0 + hour});
    CHECK_FALSE(fires[0].catchup);
    CHECK(t.state().missed == 5);
  }
}

TEST_CASE("a tick within the grace period is on time, not caught up") {
  ticker_policy p;
  p.catchup = catchup_policy::none;
  auto t = make("0 * * * *", p);
  CHECK(t.advance(t0 + hour + 59 * sec, false).size() == 1);
  CHECK(t.advance(t0 + 2 * hour + 61 * sec, false).empty());
  CHECK(last_outcome(t) == tick_outcome::missed_catchup);
}

TEST_CASE("jitter is a constant offset per source, below the jitter") {
  ticker_policy p;
  p.jitter = std::chrono::minutes{10};
  ticker a{"nightly", parse("0 3 * * *"), p};
  ticker b{"nightly", parse("0 3 * * *"), p};
  ticker c{"hourly-report", parse("0 3 * * *"), p};
  CHECK(a.jitter_offset_ns() == b.jitter_offset_ns());
  CHECK(a.jitter_offset_ns() != c.jitter_offset_ns());
  CHECK(a.jitter_offset_ns() >= 0);
  CHECK(a.jitter_offset_ns() < 10 * minute);
  a.advance(t0, false);
  CHECK(a.next_due() == t0 + 3 * hour + a.jitter_offset_ns());
  CHECK(a.advance(t0 + 3 * hour + a.jitter_offset_ns() - 1, false).empty());
  auto fires = a.advance(t0 + 3 * hour + a.jitter_offset_ns(), false);
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].nominal_ns == t0 + 3 * hour);
}

TEST_CASE("a year of downtime of a per-second schedule is decided quickly") {
  auto t = make("@every 1s");
  auto fires = t.advance(t0 + 365 * 24 * hour, false);
  REQUIRE(fires.size() == 1); // catch-up last
  CHECK(fires[0].nominal_ns == t0 + 365 * 24 * hour);
  CHECK(t.state().recent.size() == max_recent);
  CHECK(t.state().missed >= max_enumerated);
  CHECK(t.next_due() == t0 + 365 * 24 * hour + sec);
}

TEST_CASE("a restored state goes on where it stopped") {
  auto t = make("0 * * * *");
  CHECK(t.advance(t0 + hour, false).size() == 1);
  t.fired(t0 + hour, 7);
  ticker again{"nightly", parse("0 * * * *"), {}, t.state()};
  CHECK(again.advance(t0 + hour + 30 * minute, false).empty());
  CHECK(again.advance(t0 + 2 * hour, false).size() == 1);
  CHECK(again.state().fired == 2);
}

TEST_CASE("policy names parse and print") {
  for (auto name :
       {"skip", "buffer_one", "buffer_all", "cancel_other", "allow_all"})
    CHECK(to_string(*parse_overlap(name)) == std::string{name});
  for (auto name : {"none", "last", "all"})
    CHECK(to_string(*parse_catchup(name)) == std::string{name});
  CHECK_FALSE(parse_overlap("queue"));
  CHECK_FALSE(parse_catchup("some"));
}
