// Tests the fast pattern machine against the reference matcher on the
// data-driven cases in tests/data/patterns and on hand-written cases: array
// elements, what flattened fields leave open, identical and unanchored
// patterns, and concurrent matching. The seeded random cases are in
// pattern_machine_random_test.cpp.
#include "runtime/pattern/flatten.hpp"
#include "runtime/pattern/machine.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/pattern/reference.hpp"

#include "runtime/json/cloudevent.hpp"

#include "tests/runtime/pattern_machine_test_support.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace rouse;
using namespace rouse::machine_test;

namespace {

struct data_case {
  std::string name;
  std::string pattern_json;
  std::string event_json;
  bool expected = false;
};

std::vector<data_case> load_cases(const std::string& file) {
  simdjson::dom::parser parser;
  simdjson::dom::array cases;
  auto path = std::string{ROUSE_PATTERN_DATA} + "/" + file;
  REQUIRE(parser.load(path).get_array().get(cases) == simdjson::SUCCESS);
  std::vector<data_case> out;
  for (auto c : cases)
    out.push_back({std::string{c["name"].get_string().value()},
                   simdjson::minify(c["pattern"].value()),
                   simdjson::minify(c["event"].value()),
                   c["match"].get_bool().value()});
  return out;
}

/// Cases the machine cannot decide like the reference because flatten() maps
/// both readings to the same fields: `{"a.b": 1}` and `{"a": {"b": 1}}` both
/// become the field "data.a.b". The machine takes the path reading.
const std::set<std::string> flatten_ambiguous = {
    "dotted field names are not paths"};

/// Returns the machine's answer for one pattern; the flattened-fields and the
/// event overloads must give the same.
bool machine_says(const pattern::pattern& p, std::string_view event_json) {
  auto ev = json::decode_event(event_json);
  REQUIRE(ev);
  auto m = pattern::machine::build({p});
  bool by_fields = !run(*m, pattern::flatten(*ev)).empty();
  bool by_event = !run(*m, *ev).empty();
  CHECK(by_fields == by_event);
  return by_event;
}

bool agree(std::string_view pattern_json, std::string_view event_json) {
  auto p = pattern::compile(pattern_json);
  REQUIRE(p);
  bool ref = pattern::reference_match(*p, event_json);
  INFO("pattern: " << pattern_json << "\nevent: " << event_json
                   << "\nreference: " << ref);
  CHECK(machine_says(*p, event_json) == ref);
  return ref;
}

} // namespace

TEST_CASE("pattern machine: agrees with the reference on the data files",
          "[runtime][pattern][machine]") {
  std::vector<pattern::pattern> all;
  std::vector<data_case> cases;
  for (const char* file : {"operators.json", "structure.json"}) {
    for (auto& c : load_cases(file)) {
      INFO(file << ": " << c.name << "\npattern: " << c.pattern_json
                << "\nevent: " << c.event_json);
      auto p = pattern::compile(c.pattern_json);
      REQUIRE(p);
      bool ref = pattern::reference_match(*p, c.event_json);
      CHECK(ref == c.expected);
      if (flatten_ambiguous.count(c.name))
        CHECK(machine_says(*p, c.event_json) == !c.expected);
      else
        CHECK(machine_says(*p, c.event_json) == c.expected);
      all.push_back(std::move(*p));
      cases.push_back(std::move(c));
    }
  }
  // The same cases through one machine holding every pattern.
  auto m = pattern::machine::build(all);
  REQUIRE(m->size() == all.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    auto ev = json::decode_event(c.event_json);
    REQUIRE(ev);
    auto ids = run(*m, pattern::flatten(*ev));
    CHECK(ids == run(*m, *ev));
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    for (auto id : ids) {
      INFO("pattern " << id << " matched event of case " << c.name);
      if (!flatten_ambiguous.count(cases[id].name))
        CHECK(pattern::reference_match(all[id], c.event_json));
    }
    bool own = std::find(ids.begin(), ids.end(), i) != ids.end();
    INFO(c.name);
    CHECK(own == (flatten_ambiguous.count(c.name) ? !c.expected : c.expected));
  }
}

TEST_CASE("pattern machine: array elements keep sub-patterns together",
          "[runtime][pattern][machine]") {
  auto ev = [](const std::string& data) {
    return R"({"specversion":"1.0","id":"1","source":"s","type":"t","data":)"
           + data + "}";
  };
  SECTION("fields of one sub-pattern come from one element") {
    CHECK(agree(R"({"data":{"c":{"id":["a"],"n":[2]}}})",
                ev(R"({"c":[{"id":"a","n":2},{"id":"b","n":3}]})")));
    CHECK_FALSE(agree(R"({"data":{"c":{"id":["a"],"n":[3]}}})",
                      ev(R"({"c":[{"id":"a","n":2},{"id":"b","n":3}]})")));
    CHECK(agree(R"({"data":{"c":{"u":{"id":["a"]},"n":[2]}}})",
                ev(R"({"c":[{"u":{"id":"a"},"n":2},{"n":3}]})")));
  }
  SECTION("exists false holds in an element without the field") {
    CHECK(agree(R"({"data":{"c":{"id":[{"exists":false}]}}})",
                ev(R"({"c":[{"id":"a"},{"n":1}]})")));
    CHECK_FALSE(agree(R"({"data":{"c":{"id":[{"exists":false}]}}})",
                      ev(R"({"c":[{"id":"a"},{"id":"b"}]})")));
    CHECK(agree(R"({"data":{"c":{"id":[{"exists":false}]}}})",
                ev(R"({"c":[{"id":"a"},5]})")));
    CHECK(agree(R"({"data":{"c":{"id":["a"],"x":[{"exists":false}]}}})",
                ev(R"({"c":[{"id":"a","x":1},{"id":"a"}]})")));
    CHECK_FALSE(agree(R"({"data":{"c":{"id":["a"],"x":[{"exists":false}]}}})",
                      ev(R"({"c":[{"id":"a","x":1},{"id":"b"}]})")));
  }
  SECTION("arrays of arrays and arrays at the top of data") {
    CHECK(agree(R"({"data":{"k":[3]}})", ev(R"([{"k":1},[{"k":3}]])")));
    CHECK_FALSE(
        agree(R"({"data":{"k":[1],"j":[2]}})", ev(R"([[{"k":1}],[{"j":2}]])")));
    CHECK(agree(R"({"data":{"k":[1],"j":[2]}})",
                ev(R"([[{"k":0}],[{"k":1,"j":2}]])")));
  }
  SECTION("$or alternatives inside an element") {
    CHECK(agree(R"({"data":{"c":{"id":["b"],"$or":[{"n":[1]},{"m":[1]}]}}})",
                ev(R"({"c":[{"id":"a","n":1},{"id":"b","m":1}]})")));
    CHECK_FALSE(
        agree(R"({"data":{"c":{"id":["b"],"$or":[{"n":[1]},{"m":[2]}]}}})",
              ev(R"({"c":[{"id":"a","n":1},{"id":"b","m":1}]})")));
  }
}

TEST_CASE("pattern machine: the event overload decides what flattened fields "
          "leave open",
          "[runtime][pattern][machine]") {
  // Each event's flattened fields are identical to those of another event on
  // which the reference answers differently; only the walk over the event
  // sees where the array sits and how many elements it has.
  struct ambiguous_case {
    const char* pattern;
    const char* data;
    bool reference;
    bool by_fields;
  };
  const ambiguous_case cases[] = {
      // A trailing element without fields is invisible once flattened.
      {R"({"data":{"c":{"id":[{"exists":false}]}}})",
       R"({"c":[{"id":"a"},{}]})", true, false},
      // Same fields as {"c":[{"id":1},{"id":2}]}, where "c" is the array.
      {R"({"data":{"c":{"id":[1],"$or":[{"id":[2]},{"x":[1]}]}}})",
       R"({"c":{"id":[1,2]}})", true, true},
      {R"({"data":{"c":{"id":[1],"$or":[{"id":[2]},{"x":[1]}]}}})",
       R"({"c":[{"id":1},{"id":2}]})", false, true},
      // Same fields as {"c":{"id":[[],1]}}.
      {R"({"data":{"c":{"id":[{"exists":false}]}}})", R"({"c":[[],{"id":1}]})",
       true, false},
  };
  for (const auto& c : cases) {
    std::string event_json =
        R"({"specversion":"1.0","id":"1","source":"s","type":"t","data":)"
        + std::string{c.data} + "}";
    INFO("pattern: " << c.pattern << "\nevent: " << event_json);
    auto p = pattern::compile(c.pattern);
    REQUIRE(p);
    auto ev = json::decode_event(event_json);
    REQUIRE(ev);
    auto m = pattern::machine::build({*p});
    CHECK(pattern::reference_match(*p, event_json) == c.reference);
    CHECK(run(*m, *ev).empty() != c.reference);
    CHECK(run(*m, pattern::flatten(*ev)).empty() != c.by_fields);
  }
}

TEST_CASE("pattern machine: identical and unanchored patterns all report",
          "[runtime][pattern][machine]") {
  std::vector<std::string> texts = {
      R"({"type":["a"],"data":{"n":[{"numeric":[">",1]}]}})",
      R"({})",
      R"({"type":["a"],"data":{"n":[{"numeric":[">",1]}]}})",
      R"({"subject":[{"exists":false}]})",
      R"({"type":["b"]})",
      R"({"type":["a"],"data":{"n":[{"numeric":[">",1]}]}})",
      R"({"$or":[{"type":["a"]},{"data":{"m":[{"exists":false}]}}]})"};
  std::vector<pattern::pattern> patterns;
  for (const auto& t : texts) {
    auto p = pattern::compile(t);
    REQUIRE(p);
    patterns.push_back(std::move(*p));
  }
  auto m = pattern::machine::build(patterns);
  CHECK(m->size() == texts.size());
  CHECK(m->programs() == 5);
  CHECK(m->unanchored() == 3);
  CHECK(m->memory_bytes() > 0);
  event ev;
  ev.id = "1";
  ev.source = "s";
  ev.type = "a";
  ev.data = R"({"n":2,"m":1})";
  CHECK(run(*m, ev) == std::vector<uint32_t>{0, 1, 2, 3, 5, 6});
  CHECK(run(*m, pattern::flatten(ev))
        == std::vector<uint32_t>{0, 1, 2, 3, 5, 6});
  ev.type = "b";
  ev.subject = "x";
  CHECK(run(*m, ev) == std::vector<uint32_t>{1, 4});
  std::vector<uint32_t> out{99};
  m->match(ev, out);
  CHECK(out == std::vector<uint32_t>{99, 1, 4});
  auto empty = pattern::machine::build({});
  CHECK(empty->size() == 0);
  CHECK(run(*empty, ev).empty());
}

TEST_CASE("pattern machine: match is safe from many threads at once",
          "[runtime][pattern][machine]") {
  std::vector<pattern::pattern> patterns;
  for (int i = 0; i < 50; ++i) {
    auto p = pattern::compile(R"({"data":{"n":[{"numeric":[">=",)"
                              + std::to_string(i) + "]}]}}");
    REQUIRE(p);
    patterns.push_back(std::move(*p));
  }
  auto m = pattern::machine::build(patterns);
  event ev;
  ev.id = "1";
  ev.source = "s";
  ev.type = "t";
  ev.data = R"({"n":24.5})";
  auto fields = pattern::flatten(ev);
  std::vector<std::vector<uint32_t>> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results)
    threads.emplace_back([&] {
      for (int k = 0; k < 200; ++k) {
        r.clear();
        m->match(fields, r);
      }
    });
  for (auto& t : threads)
    t.join();
  std::vector<uint32_t> expected;
  for (uint32_t i = 0; i <= 24; ++i)
    expected.push_back(i);
  for (const auto& r : results)
    CHECK(r == expected);
}
