// Tests the pattern matcher router shards use: rule indexes come back in
// ascending order, for every rule whose pattern matches. And the wait set the
// dispatcher keeps waiting runs in: the same answers as trying every wait,
// through adds, removes and machine rebuilds.
#include "runtime/match/matcher.hpp"
#include "runtime/match/wait_set.hpp"

#include "runtime/pattern/pattern.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

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

namespace {

// A wait pattern on one of a few orders and kinds, some with a data filter.
std::string wait_pattern(std::mt19937& rng) {
  auto order = std::to_string(rng() % 40);
  switch (rng() % 3) {
  case 0:
    return R"({"type":["demo.approved"],"data":{"order":[")" + order
           + R"("]}})";
  case 1:
    return R"({"data":{"order":[")" + order + R"("],"size":[{"numeric":[">",)"
           + std::to_string(rng() % 10) + "]}]}}";
  default:
    return R"({"type":[{"prefix":"demo."}],"subject":[")" + order + R"("]})";
  }
}

event wait_event(std::mt19937& rng, uint64_t seq) {
  event ev;
  ev.id = "e" + std::to_string(seq);
  ev.source = "test";
  ev.type = rng() % 2 ? "demo.approved" : "demo.other";
  auto order = std::to_string(rng() % 40);
  ev.subject = order;
  ev.data = R"({"order":")" + order + R"(","size":)"
            + std::to_string(rng() % 12) + "}";
  ev.seq = seq;
  return ev;
}

} // namespace

TEST_CASE("match: a wait set answers like trying every wait",
          "[runtime][match]") {
  std::mt19937 rng{20261121};
  match::wait_set set;
  // The reference: every live wait with its own single-pattern matcher.
  std::map<std::string, std::shared_ptr<const match::matcher>> all;
  uint64_t next_id = 0;
  uint64_t seq = 0;
  std::size_t woken_total = 0;
  for (int step = 0; step < 4000; ++step) {
    auto roll = rng() % 10;
    if (roll < 6 || all.empty()) {
      auto id = "run-" + std::to_string(next_id++);
      auto p = compile(wait_pattern(rng).c_str());
      CHECK(set.add(id, p));
      CHECK_FALSE(set.add(id, p)); // a second add of one id changes nothing
      all.emplace(id, match::make_pattern_matcher({p}));
    } else if (roll < 8) {
      auto i = all.begin();
      std::advance(i, rng() % all.size());
      CHECK(set.remove(i->first));
      CHECK_FALSE(set.remove(i->first));
      all.erase(i);
    } else {
      auto ev = wait_event(rng, ++seq);
      std::vector<std::string> got;
      set.match(ev, got);
      std::sort(got.begin(), got.end());
      std::vector<std::string> expected;
      std::vector<uint32_t> hits;
      for (const auto& [id, m] : all) {
        hits.clear();
        m->match(ev, hits);
        if (!hits.empty())
          expected.push_back(id);
      }
      REQUIRE(got == expected);
      // Woken waits leave, as the dispatcher removes them.
      for (const auto& id : got) {
        CHECK(set.remove(id));
        all.erase(id);
      }
      woken_total += got.size();
    }
    REQUIRE(set.size() == all.size());
  }
  // The sequence grew the set past several rebuilds and woke many waits.
  CHECK(set.builds() >= 5);
  CHECK(woken_total > 100);
  for (const auto& [id, m] : all)
    CHECK(set.contains(id));
}

TEST_CASE("match: an emptied wait set matches nothing", "[runtime][match]") {
  match::wait_set set;
  for (int i = 0; i < 200; ++i)
    REQUIRE(set.add("r" + std::to_string(i), compile(R"({"type":["t"]})")));
  for (int i = 0; i < 200; ++i)
    REQUIRE(set.remove("r" + std::to_string(i)));
  CHECK(set.empty());
  event ev;
  ev.id = std::string(1, 'x');
  ev.source = std::string(1, 's');
  ev.type = std::string(1, 't');
  std::vector<std::string> got;
  set.match(ev, got);
  CHECK(got.empty());
}
