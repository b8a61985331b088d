// Tests the event-pattern compiler, the reference matcher (data-driven cases
// in tests/data/patterns) and event flattening.
#include "runtime/pattern/flatten.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/pattern/reference.hpp"
#include "tests/support/random_json.hpp"

#include "messages/errc.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

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

namespace {

std::vector<pattern::array_position>
positions(std::span<const pattern::array_position> arrays) {
  return {arrays.begin(), arrays.end()};
}

/// Returns an event with id e1, `source` and `type`, and nothing else set.
event make_event(std::string source = "s", std::string type = "t") {
  event ev;
  ev.id = "e1";
  ev.source = std::move(source);
  ev.type = std::move(type);
  return ev;
}

} // namespace

TEST_CASE("flatten: fields are sorted by path and arrays are expanded",
          "[runtime][pattern][flatten]") {
  auto ev = make_event("shop", "order.created");
  ev.subject = "order/7";
  ev.extensions = {{"tenant", "\"acme\""}, {"priority", "2"}};
  ev.data = R"({"total":3e2,"tags":["a","b"],"paid":true,"note":null,)"
            R"("items":[{"sku":"x1"},{"sku":"x2"}],"empty":[],"obj":{}})";
  auto fields = pattern::flatten(ev);
  std::vector<std::string> paths;
  for (const auto& f : fields)
    paths.emplace_back(f.path);
  CHECK(paths
        == std::vector<std::string>{
            "data.items.sku", "data.items.sku", "data.note", "data.paid",
            "data.tags", "data.tags", "data.total", "id", "priority", "source",
            "specversion", "subject", "tenant", "type"});
  CHECK(fields[0].val.text == "x1");
  CHECK(fields[1].val.text == "x2");
  CHECK(positions(fields[0].arrays)
        == std::vector<pattern::array_position>{{1, 0}});
  CHECK(positions(fields[1].arrays)
        == std::vector<pattern::array_position>{{1, 1}});
  CHECK(fields[2].val.kind == pattern::value_kind::null);
  CHECK(fields[3].val.kind == pattern::value_kind::true_value);
  CHECK(fields[4].val.text == "a");
  CHECK(fields[5].val.text == "b");
  CHECK(positions(fields[4].arrays)
        == std::vector<pattern::array_position>{{0, 0}});
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
  auto ev = make_event();
  ev.data = R"([[1],[2,3]])";
  auto fields = pattern::flatten(ev);
  REQUIRE(fields.size() == 7);
  CHECK(fields[0].path == "data");
  CHECK(fields[0].val.number == 1);
  CHECK(positions(fields[0].arrays)
        == std::vector<pattern::array_position>{{0, 0}, {1, 0}});
  CHECK(fields[2].val.number == 3);
  CHECK(positions(fields[2].arrays)
        == std::vector<pattern::array_position>{{0, 1}, {2, 1}});
}

TEST_CASE("flatten: base64 data is one string field and absent data none",
          "[runtime][pattern][flatten]") {
  auto ev = make_event();
  ev.data = "aGVsbG8=";
  ev.data_is_base64 = true;
  auto fields = pattern::flatten(ev);
  REQUIRE(fields.size() == 5);
  CHECK(fields[0].path == "data_base64");
  CHECK(fields[0].val.text == "aGVsbG8=");
  ev.data.clear();
  CHECK(pattern::flatten(ev).size() == 4);
}

TEST_CASE("flatten: a reused flat_event holds only the latest event",
          "[runtime][pattern][flatten]") {
  auto ev = make_event();
  ev.data = R"({"tags":["a","b","c"],"n":[[1,2]]})";
  pattern::flat_event fields;
  pattern::flatten(ev, fields);
  REQUIRE(fields.size() == 9);
  CHECK(fields[2].path == "data.tags");
  CHECK(fields[4].val.text == "c");
  CHECK(positions(fields[1].arrays)
        == std::vector<pattern::array_position>{{1, 0}, {2, 1}});

  ev.data = R"({"x":"long enough to need the heap in a std::string"})";
  ev.subject = "sub";
  pattern::flatten(ev, fields);
  std::vector<std::string> got;
  for (const auto& f : fields)
    got.push_back(std::string{f.path} + "=" + std::string{f.val.text});
  CHECK(got
        == std::vector<std::string>{
            "data.x=long enough to need the heap in a std::string", "id=e1",
            "source=s", "specversion=1.0", "subject=sub", "type=t"});
  CHECK(fields[0].arrays.empty());
  ev.data = "not json";
  pattern::flatten(ev, fields);
  CHECK(fields.size() == 5);
}

namespace {

/// A flattened field that owns its strings and arrays.
struct owned_field {
  std::string path;
  pattern::value val;
  std::vector<pattern::array_position> arrays;
};

/// flatten() as first written (a path string and an array vector per field,
/// a stable sort of the fields): the reference the optimized one must equal.
class simple_flattener {
public:
  explicit simple_flattener(std::vector<owned_field>& out) : out_(out) {}

  void add_string(std::string path, std::string_view s) {
    owned_field f;
    f.path = std::move(path);
    f.val.kind = pattern::value_kind::string;
    f.val.text = std::string{s};
    out_.push_back(std::move(f));
  }

  void walk(simdjson::dom::element e, const std::string& path) {
    namespace dom = simdjson::dom;
    switch (e.type()) {
    case dom::element_type::OBJECT:
      for (auto [key, child] : dom::object{e.get_object().value_unsafe()})
        walk(child, path + "." + std::string{key});
      return;
    case dom::element_type::ARRAY: {
      uint32_t id = next_array_id_++;
      uint32_t index = 0;
      for (auto child : dom::array{e.get_array().value_unsafe()}) {
        arrays_.push_back({id, index++});
        walk(child, path);
        arrays_.pop_back();
      }
      return;
    }
    default: break;
    }
    owned_field f;
    f.path = path;
    f.arrays = arrays_;
    auto& v = f.val;
    switch (e.type()) {
    case dom::element_type::STRING:
      v.kind = pattern::value_kind::string;
      v.text = std::string{e.get_string().value_unsafe()};
      break;
    case dom::element_type::BOOL:
      v.kind = e.get_bool().value_unsafe() ? pattern::value_kind::true_value
                                           : pattern::value_kind::false_value;
      v.text = v.kind == pattern::value_kind::true_value ? "true" : "false";
      break;
    case dom::element_type::NULL_VALUE:
      v.kind = pattern::value_kind::null;
      v.text = "null";
      break;
    default:
      v.kind = pattern::value_kind::number;
      v.text = simdjson::minify(e);
      v.number = e.get_double().value_unsafe();
      break;
    }
    out_.push_back(std::move(f));
  }

  void walk_json(std::string_view json, const std::string& path) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded{json};
    simdjson::dom::element doc;
    if (parser.parse(padded).get(doc) == simdjson::SUCCESS)
      walk(doc, path);
  }

private:
  std::vector<owned_field>& out_;
  std::vector<pattern::array_position> arrays_;
  uint32_t next_array_id_ = 0;
};

std::vector<owned_field> flatten_simply(const event& ev) {
  std::vector<owned_field> out;
  simple_flattener f{out};
  auto attr = [&](const char* name, const std::string& s) {
    if (!s.empty())
      f.add_string(name, s);
  };
  attr("id", ev.id);
  attr("source", ev.source);
  attr("type", ev.type);
  attr("specversion", ev.specversion);
  attr("subject", ev.subject);
  attr("time", ev.time);
  attr("datacontenttype", ev.datacontenttype);
  attr("dataschema", ev.dataschema);
  for (const auto& ext : ev.extensions)
    f.walk_json(ext.value_json, ext.name);
  if (!ev.data.empty()) {
    if (ev.data_is_base64)
      f.add_string("data_base64", ev.data);
    else
      f.walk_json(ev.data, "data");
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const owned_field& a, const owned_field& b) {
                     return a.path < b.path;
                   });
  return out;
}

void check_same_fields(const event& ev) {
  auto got = pattern::flatten(ev);
  auto want = flatten_simply(ev);
  INFO("data: " << ev.data);
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("field " << i << ": " << want[i].path);
    CHECK(got[i].path == want[i].path);
    CHECK(got[i].val.kind == want[i].val.kind);
    CHECK(got[i].val.text == want[i].val.text);
    CHECK(got[i].val.number == want[i].val.number);
    CHECK(positions(got[i].arrays) == want[i].arrays);
  }
}

/// Keys that share prefixes, repeat, or sort around '.'.
const char* const flatten_keys[] = {
    "a", "a-b", "a.b", "ab", "b", "", "é", "a_", "A", "aa", "a b",
    // Longer than the 24 bytes flatten() sorts by before reading paths.
    "a_key_longer_than_24_bytes", "a_key_longer_than_24_bytes_too"};

const char* const flatten_scalars[] = {
    "0",
    "-1",
    "42",
    "18446744073709551615",
    "-9223372036854775808",
    "3e2",
    "1.5",
    "-0.0",
    "1e300",
    "2.5E-3",
    "true",
    "false",
    "null",
    R"("x")",
    R"("")",
    R"("a\"b\\c")",
    R"("\u00e9\n\t")",
    R"("\u0001")",
    R"("a very long string value, longer than the SSO buffer")"};

/// Minified JSON: nested objects and arrays with keys that share prefixes,
/// repeat, or sort around '.', and every kind of scalar.
const test::random_json_shape flatten_shape{.scalars = flatten_scalars,
                                            .keys = flatten_keys,
                                            .max_depth = 4,
                                            .member_bound = 5,
                                            .chain_below_depth = 0,
                                            .spaced = false};

} // namespace

TEST_CASE("flatten: equals the straightforward walk on tricky and random "
          "events",
          "[runtime][pattern][flatten]") {
  auto ev = make_event("a source longer than sixteen bytes");
  ev.time = "2026-11-21T09:00:00Z";
  SECTION("tricky data and extensions") {
    ev.extensions = {{"tenant", "\"acme\""},
                     {"big", "18446744073709551615"},
                     {"neg", "-12"},
                     {"dbl", "2.50"},
                     {"obj", R"({"x":[1,{"y":"z"}],"x.y":2,"x-y":3})"},
                     {"bad", "{"},
                     {"arr", R"([true,false,null])"}};
    for (const char* data :
         {R"({"a":{"b":1},"a.b":2,"a-b":3,"a":4,"ab":[[5,6],[7]]})",
          R"({"n":[3e2,1.0,-0.0,1e-7,123456789012345678901234567890]})",
          R"({"s":"\u00e9\"\\\/\b\f\n\r\t\u0000\u001f","e":[],"o":{}})",
          R"([{"k":[{"k":1},{"k":2}]},{"k":[]},{"k":"v"}])", R"("just text")",
          "17", "not json", R"({"unterminated":)", ""}) {
      ev.data = data;
      check_same_fields(ev);
    }
  }
  SECTION("random data") {
    std::mt19937_64 rng{20261121};
    for (int i = 0; i < 2000; ++i) {
      ev.data = test::random_json(rng, flatten_shape);
      ev.extensions = {{"x", test::random_json(rng, flatten_shape, 2)}};
      check_same_fields(ev);
    }
  }
}
