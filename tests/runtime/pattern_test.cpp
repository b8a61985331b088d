// Tests the event-pattern compiler, the reference matcher (data-driven cases
// in tests/data/patterns) and event flattening.
#include "runtime/pattern/flatten.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/pattern/reference.hpp"

#include "messages/errc.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <filesystem>
#include <string>

using namespace rouse;

namespace {

std::string data_file(const std::string& name) {
  return std::string{ROUSE_PATTERN_DATA} + "/" + name;
}

bool matches(std::string_view pattern_json, std::string_view event_json) {
  auto p = pattern::compile(pattern_json);
  REQUIRE(p);
  return pattern::reference_match(*p, event_json);
}

std::string compile_error(std::string_view pattern_json,
                          std::string_view prefix = "on") {
  auto p = pattern::compile(pattern_json, prefix);
  REQUIRE_FALSE(p);
  CHECK(is(p.error(), errc::invalid_input));
  return describe(p.error());
}

void run_match_file(const std::string& name) {
  simdjson::dom::parser parser;
  simdjson::dom::array cases;
  REQUIRE(parser.load(data_file(name)).get_array().get(cases)
          == simdjson::SUCCESS);
  REQUIRE(cases.size() > 0);
  for (auto c : cases) {
    std::string case_name{c["name"].get_string().value()};
    std::string pattern_json = simdjson::minify(c["pattern"].value());
    std::string event_json = simdjson::minify(c["event"].value());
    bool expected = c["match"].get_bool().value();
    INFO(name << ": " << case_name << "\npattern: " << pattern_json
              << "\nevent: " << event_json);
    auto p = pattern::compile(pattern_json);
    if (!p)
      FAIL("compile failed: " << describe(p.error()));
    CHECK(pattern::reference_match(*p, event_json) == expected);
  }
}

} // namespace

TEST_CASE("pattern: operators match by EventBridge semantics",
          "[runtime][pattern]") {
  run_match_file("operators.json");
}

TEST_CASE("pattern: structure, arrays and $or match by EventBridge semantics",
          "[runtime][pattern]") {
  run_match_file("structure.json");
}

TEST_CASE("pattern: invalid patterns fail with the path and the problem",
          "[runtime][pattern]") {
  simdjson::dom::parser parser;
  simdjson::dom::array cases;
  REQUIRE(parser.load(data_file("invalid.json")).get_array().get(cases)
          == simdjson::SUCCESS);
  REQUIRE(cases.size() > 0);
  for (auto c : cases) {
    auto raw = c["pattern"].value();
    std::string pattern_json = raw.is_string()
                                   ? std::string{raw.get_string().value()}
                                   : simdjson::minify(raw);
    std::string expected{c["error"].get_string().value()};
    INFO("pattern: " << pattern_json);
    auto text = compile_error(pattern_json);
    CHECK_THAT(text, Catch::Matchers::Contains(expected));
  }
}

TEST_CASE("pattern: every data file is a case file", "[runtime][pattern]") {
  size_t files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator{ROUSE_PATTERN_DATA})
    if (entry.path().extension() == ".json")
      ++files;
  CHECK(files == 3);
}

TEST_CASE("pattern: error paths use the given prefix", "[runtime][pattern]") {
  CHECK(compile_error(R"({"type":"x"})", "triggers[2].on")
        == "triggers[2].on.type: a leaf must be an array of values or "
           "operators");
  CHECK(compile_error(R"({"data":{"x":[{"prefx":"a"}]}})")
        == "on.data.x: unknown operator \"prefx\"");
  CHECK(compile_error(R"({"data":{"size":[{"numeric":[">"]}]}})")
        == "on.data.size: numeric needs an operator and a number");
  CHECK(compile_error(R"({"data":{"ip":[{"cidr":"10.0.0.0/33"}]}})")
        == "on.data.ip: invalid CIDR \"10.0.0.0/33\"");
}

TEST_CASE("pattern: compile builds the expected tree", "[runtime][pattern]") {
  auto p = pattern::compile(
      R"({"type":["a",3e2,{"numeric":[">=",1,"<",2]}],"data":{"x":[null]},)"
      R"("$or":[{"id":["1"]},{"id":["2"]}]})");
  REQUIRE(p);
  const auto& root = p->root;
  REQUIRE(root.fields.size() == 2);
  REQUIRE(root.or_groups.size() == 1);
  CHECK(root.or_groups[0].size() == 2);
  const auto& type = root.fields[0];
  CHECK(type.name == "type");
  CHECK(type.leaf);
  REQUIRE(type.conditions.size() == 3);
  CHECK(type.conditions[0].exact.kind == pattern::value_kind::string);
  CHECK(type.conditions[1].exact.kind == pattern::value_kind::number);
  CHECK(type.conditions[1].exact.number == 300.0);
  const auto& range = type.conditions[2].range;
  CHECK(type.conditions[2].kind == pattern::op_kind::numeric);
  CHECK((range.has_lower && range.lower_inclusive && range.lower == 1));
  CHECK((range.has_upper && !range.upper_inclusive && range.upper == 2));
  const auto& data = root.fields[1];
  CHECK_FALSE(data.leaf);
  REQUIRE(data.nested.size() == 1);
  CHECK(data.nested[0].fields[0].conditions[0].exact.kind
        == pattern::value_kind::null);
}

TEST_CASE("pattern: numbers compare by value", "[runtime][pattern]") {
  pattern::value a{pattern::value_kind::number, "300", 300};
  pattern::value b{pattern::value_kind::number, "3e2", 3e2};
  pattern::value c{pattern::value_kind::string, "300", 0};
  CHECK(pattern::equal(a, b));
  CHECK_FALSE(pattern::equal(a, c));
  auto ev = R"({"id":"1","source":"s","type":"t","data":{"n":300.0}})";
  CHECK(matches(R"({"data":{"n":[300]}})", ev));
  CHECK(matches(R"({"data":{"n":[3e2]}})", ev));
  CHECK(matches(R"({"data":{"n":[{"numeric":["=",3.0e2]}]}})", ev));
  CHECK_FALSE(matches(R"({"data":{"n":["300"]}})", ev));
}

TEST_CASE("pattern: reference_match rejects events that are not objects",
          "[runtime][pattern]") {
  auto p = pattern::compile("{}");
  REQUIRE(p);
  CHECK(pattern::reference_match(*p, R"({"type":"t"})"));
  CHECK_FALSE(pattern::reference_match(*p, "[1]"));
  CHECK_FALSE(pattern::reference_match(*p, "{bad"));
}

TEST_CASE("pattern: parse_ip reads v4 and v6 addresses", "[runtime][pattern]") {
  pattern::cidr_block ip;
  REQUIRE(pattern::parse_ip("10.1.2.3", ip));
  CHECK_FALSE(ip.ipv6);
  CHECK(ip.address[0] == 10);
  CHECK(ip.address[3] == 3);
  REQUIRE(pattern::parse_ip("::ffff", ip));
  CHECK(ip.ipv6);
  CHECK(ip.address[14] == 0xff);
  CHECK_FALSE(pattern::parse_ip("10.1.2", ip));
  CHECK_FALSE(pattern::parse_ip("", ip));
  CHECK_FALSE(pattern::parse_ip("10.0.0.1/8", ip));
}

TEST_CASE("flatten: fields are sorted by path and arrays are expanded",
          "[runtime][pattern][flatten]") {
  event ev;
  ev.id = "e1";
  ev.source = "shop";
  ev.type = "order.created";
  ev.subject = "order/7";
  ev.extensions = {{"tenant", "\"acme\""}, {"priority", "2"}};
  ev.data = R"({"total":3e2,"tags":["a","b"],"paid":true,"note":null,)"
            R"("items":[{"sku":"x1"},{"sku":"x2"}],"empty":[],"obj":{}})";
  auto fields = pattern::flatten(ev);
  std::vector<std::string> paths;
  for (const auto& f : fields)
    paths.push_back(f.path);
  CHECK(paths
        == std::vector<std::string>{
            "data.items.sku", "data.items.sku", "data.note", "data.paid",
            "data.tags", "data.tags", "data.total", "id", "priority", "source",
            "specversion", "subject", "tenant", "type"});
  CHECK(fields[0].val.text == "x1");
  CHECK(fields[1].val.text == "x2");
  CHECK(fields[0].arrays == std::vector<pattern::array_position>{{1, 0}});
  CHECK(fields[1].arrays == std::vector<pattern::array_position>{{1, 1}});
  CHECK(fields[2].val.kind == pattern::value_kind::null);
  CHECK(fields[3].val.kind == pattern::value_kind::true_value);
  CHECK(fields[4].val.text == "a");
  CHECK(fields[5].val.text == "b");
  CHECK(fields[4].arrays == std::vector<pattern::array_position>{{0, 0}});
  CHECK(fields[6].val.kind == pattern::value_kind::number);
  CHECK(fields[6].val.number == 300.0);
  CHECK_FALSE(fields[6].val.text.empty());
  CHECK(fields[6].arrays.empty());
  CHECK(fields[8].val.kind == pattern::value_kind::number);
  CHECK(fields[8].val.text == "2");
  CHECK(fields[12].val.kind == pattern::value_kind::string);
  CHECK(fields[12].val.text == "acme");
}

TEST_CASE("flatten: nested arrays record every enclosing array",
          "[runtime][pattern][flatten]") {
  event ev;
  ev.id = "e1";
  ev.source = "s";
  ev.type = "t";
  ev.data = R"([[1],[2,3]])";
  auto fields = pattern::flatten(ev);
  REQUIRE(fields.size() == 7);
  CHECK(fields[0].path == "data");
  CHECK(fields[0].val.number == 1);
  CHECK(fields[0].arrays
        == std::vector<pattern::array_position>{{0, 0}, {1, 0}});
  CHECK(fields[2].val.number == 3);
  CHECK(fields[2].arrays
        == std::vector<pattern::array_position>{{0, 1}, {2, 1}});
}

TEST_CASE("flatten: base64 data is one string field and absent data none",
          "[runtime][pattern][flatten]") {
  event ev;
  ev.id = "e1";
  ev.source = "s";
  ev.type = "t";
  ev.data = "aGVsbG8=";
  ev.data_is_base64 = true;
  auto fields = pattern::flatten(ev);
  REQUIRE(fields.size() == 5);
  CHECK(fields[0].path == "data_base64");
  CHECK(fields[0].val.text == "aGVsbG8=");
  ev.data.clear();
  CHECK(pattern::flatten(ev).size() == 4);
}
