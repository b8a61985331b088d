// Tests the store codec's run records: the round trip, the reading of records
// stored by older versions (before waits, flow control and budgets), and
// malformed records.
#include "runtime/store/codec.hpp"

#include <caf/binary_serializer.hpp>
#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

using namespace rouse;

namespace {

run_record full_record() {
  run_record x;
  x.id = "0000000000000007-t";
  x.trigger = "t";
  x.event_seq = 7;
  x.event_id = "ev-7";
  x.event_type = "demo.hello";
  x.state = static_cast<uint8_t>(run_state::succeeded);
  x.attempt = 2;
  x.exit_code = 0;
  x.term_signal = 0;
  x.stdout_text = "out";
  x.stderr_text = "err";
  x.output_truncated = true;
  x.error = "none";
  x.created_ns = 11;
  x.started_ns = 12;
  x.finished_ns = 13;
  x.history = {{0, 11, "created"}, {1, 12, "attempt 1"}, {2, 13, "exit 0"}};
  x.wait.kind = run_wait::sleep;
  x.wait.due_ns = 99;
  x.wait.pattern = R"({"type":["x"]})";
  x.wait.since_seq = 3;
  x.wait.start_seq = 4;
  x.wait.state = R"({"n":1})";
  x.wait.reason = "sleep";
  x.wait.event_seq = 5;
  x.wait.resumes = 1;
  x.flow.concurrency_key = "ck";
  x.flow.rate_key = "rk";
  x.flow.debounce_key = "dk";
  x.flow.batch_key = "bk";
  x.flow.singleton_key = "sk";
  x.flow.priority = -4;
  x.flow.batch = {7, 8, 9};
  x.flow.budget_key = "budget-key";
  x.cost = 1.25;
  return x;
}

// How the versions before wait, before flow control and before budgets
// stored a run: the fields of their run_record, in order.
enum class layout { through_history, through_wait, through_old_flow, current };

std::string encode_as(layout l, run_record x) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto err = sink(x.id, x.trigger, x.event_seq, x.event_id, x.event_type,
                  x.state, x.attempt, x.exit_code, x.term_signal, x.stdout_text,
                  x.stderr_text, x.output_truncated, x.error, x.created_ns,
                  x.started_ns, x.finished_ns, x.history);
  if (!err && l >= layout::through_wait)
    err = sink(x.wait);
  if (!err && l >= layout::through_old_flow)
    err = sink(x.flow.concurrency_key, x.flow.rate_key, x.flow.debounce_key,
               x.flow.batch_key, x.flow.singleton_key, x.flow.priority,
               x.flow.batch);
  if (!err && l >= layout::current)
    err = sink(x.flow.budget_key, x.cost);
  REQUIRE_FALSE(err);
  return {buf.begin(), buf.end()};
}

std::string_view view(const std::vector<char>& buf) {
  return {buf.data(), buf.size()};
}

} // namespace

TEST_CASE("codec: a run record round-trips", "[runtime][store][codec]") {
  auto x = full_record();
  auto bytes = store::encode(x);
  // The hand-written layout is what encode writes.
  CHECK(view(bytes) == encode_as(layout::current, x));
  run_record y;
  REQUIRE_FALSE(store::decode(view(bytes), y));
  CHECK(y == x);
  // decode resets what a previous record left in the target.
  run_record z = full_record();
  REQUIRE_FALSE(store::decode(view(store::encode(run_record{})), z));
  CHECK(z == run_record{});
}

TEST_CASE("codec: decodes run records written by older versions",
          "[runtime][store][codec]") {
  auto x = full_record();
  SECTION("before waits: the record ends after history") {
    run_record y = full_record(); // decode must not keep stale fields
    REQUIRE_FALSE(store::decode(encode_as(layout::through_history, x), y));
    run_record expected = x;
    expected.wait = {};
    expected.flow = {};
    expected.cost = 0;
    CHECK(y == expected);
    CHECK(y.history.size() == 3);
    CHECK(y.wait == run_wait{});
    CHECK(y.flow == run_flow{});
    CHECK(y.cost == 0);
  }
  SECTION("before flow control: the record ends after wait") {
    run_record y;
    REQUIRE_FALSE(store::decode(encode_as(layout::through_wait, x), y));
    run_record expected = x;
    expected.flow = {};
    expected.cost = 0;
    CHECK(y == expected);
    CHECK(y.wait == x.wait);
    CHECK(y.flow == run_flow{});
  }
  SECTION("before budgets: the record ends after the 7 flow fields") {
    run_record y;
    REQUIRE_FALSE(store::decode(encode_as(layout::through_old_flow, x), y));
    run_record expected = x;
    expected.flow.budget_key.clear();
    expected.cost = 0;
    CHECK(y == expected);
    CHECK(y.flow.batch == std::vector<uint64_t>{7, 8, 9});
    CHECK(y.flow.priority == -4);
    CHECK(y.flow.budget_key.empty());
    CHECK(y.cost == 0);
  }
  SECTION("an old record with an empty history and defaults") {
    run_record old;
    old.id = "x";
    for (auto l : {layout::through_history, layout::through_wait,
                   layout::through_old_flow}) {
      run_record y = full_record();
      REQUIRE_FALSE(store::decode(encode_as(l, old), y));
      CHECK(y == old);
    }
  }
}

TEST_CASE("codec: malformed run records are errors",
          "[runtime][store][codec]") {
  auto x = full_record();
  auto check_malformed = [](const std::string& bytes) {
    run_record y;
    auto err = store::decode(bytes, y);
    INFO(bytes.size() << " bytes");
    REQUIRE(err);
    CHECK(is(err, errc::storage_failure));
    CHECK(describe(err).find("malformed") != std::string::npos);
  };
  auto current = encode_as(layout::current, x);
  SECTION("trailing garbage after a current record") {
    check_malformed(current + "xyz");
    check_malformed(current + std::string(1, '\0'));
    check_malformed(current + std::string(100, '\0'));
  }
  SECTION("trailing garbage after an old record") {
    check_malformed(encode_as(layout::through_history, x) + "\x01");
    check_malformed(encode_as(layout::through_wait, x) + "\x01");
    check_malformed(encode_as(layout::through_old_flow, x) + "\x01");
  }
  SECTION("a record cut short inside a field") {
    check_malformed("");
    check_malformed(current.substr(0, 3));
    // Cut anywhere, a record is an error, except exactly at the end of a
    // group of fields: that is how an older version stored it.
    std::set<size_t> group_ends{encode_as(layout::through_history, x).size(),
                                encode_as(layout::through_wait, x).size(),
                                encode_as(layout::through_old_flow, x).size()};
    for (size_t n = 0; n < current.size(); ++n) {
      if (group_ends.count(n) != 0) {
        run_record y;
        CHECK_FALSE(store::decode(current.substr(0, n), y));
        continue;
      }
      check_malformed(current.substr(0, n));
    }
  }
}
