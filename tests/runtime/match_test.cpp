// Tests the pattern matcher router shards use: rule indexes come back in
// ascending order, for every rule whose pattern matches.
#include "runtime/match/matcher.hpp"

#include "runtime/pattern/pattern.hpp"

#include <catch2/catch.hpp>

using namespace rouse;

namespace {

std::shared_ptr<const pattern::pattern> compile(const char* json) {
  auto p = pattern::compile(json);
  REQUIRE(p);
  return std::make_shared<const pattern::pattern>(std::move(*p));
}

} // namespace

TEST_CASE("match: patterns select triggers in rule order", "[runtime][match]") {
  auto m = match::make_pattern_matcher({
      compile(R"({"source": ["github"], "type": [{"prefix": "github."}]})"),
      compile(R"({"type": ["demo.hello"]})"),
      compile(R"({"source": ["api", "cli"]})"),
      compile(R"({"data": {"size": [{"numeric": [">", 10]}]}})"),
      compile(R"({})"),
  });
  auto run = [&](std::string source, std::string type, std::string data) {
    event ev;
    ev.id = std::string(
        1, '1'); // not a literal: GCC 12 -Wrestrict false positive under ASan
    ev.source = std::move(source);
    ev.type = std::move(type);
    ev.data = std::move(data);
    std::vector<uint32_t> out;
    m->match(ev, out);
    return out;
  };
  CHECK(run("github", "github.push", "") == std::vector<uint32_t>{0, 4});
  CHECK(run("github", "gitlab.push", "") == std::vector<uint32_t>{4});
  CHECK(run("api", "demo.hello", "") == std::vector<uint32_t>{1, 2, 4});
  CHECK(run("x", "y", R"({"size": 11})") == std::vector<uint32_t>{3, 4});
  CHECK(run("x", "y", R"({"size": 10})") == std::vector<uint32_t>{4});
  CHECK(m->size() == 5);
}
