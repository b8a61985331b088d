// Tests the exact source/type matcher.
#include "runtime/match/matcher.hpp"

#include <catch2/catch.hpp>

using namespace rouse;

TEST_CASE("match: exact lists select triggers, empty lists match anything",
          "[runtime][match]") {
  auto m = match::make_exact_matcher({
      {{"github"}, {"github.push", "github.pull_request"}},
      {{}, {"demo.hello"}},
      {{"api", "cli"}, {}},
  });
  auto run = [&](std::string source, std::string type) {
    event ev;
    ev.source = std::move(source);
    ev.type = std::move(type);
    std::vector<uint32_t> out;
    m->match(ev, out);
    return out;
  };
  CHECK(run("github", "github.push") == std::vector<uint32_t>{0});
  CHECK(run("github", "github.issue").empty());
  CHECK(run("api", "demo.hello") == std::vector<uint32_t>{1, 2});
  CHECK(run("cli", "x") == std::vector<uint32_t>{2});
  CHECK(m->size() == 3);
}
