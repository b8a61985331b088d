// Tests of runtime/config budgets (runs and cost per period, by key): loaded
// from YAML with their errors, and in JSON, round trip and errors.
#include "runtime/config/config.hpp"

#include "messages/errc.hpp"
#include "tests/runtime/config_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace rouse::config;
using namespace rouse::config_test;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("config: loads a budget from YAML", "[runtime][config][flow]") {
  auto r = load(std::string{"triggers:\n"} + valid_trigger
                + "    budget: {runs: 100, cost: 2.5, per: 1d, "
                  "key: \"{{data.repo}}\"}\n"
                  "  c:\n"
                  "    on: {}\n"
                  "    run: {exec: [a]}\n"
                  "    budget:\n"
                  "      cost: \"0.25\"\n"
                  "      per: 90m\n"
                  "  plain:\n"
                  "    on: {}\n"
                  "    run: {exec: [a]}\n");
  INFO(dump(r));
  REQUIRE(r.ok());
  REQUIRE(r.cfg->triggers.size() == 3);
  const auto& b = r.cfg->triggers[0].flow.budget;
  CHECK(b.on());
  CHECK(b.runs == 100);
  CHECK(b.cost == 2.5);
  CHECK(b.per == 24h);
  CHECK(b.key == "{{data.repo}}");
  const auto& c = r.cfg->triggers[1].flow.budget;
  CHECK(c.on());
  CHECK(c.runs == 0);
  CHECK(c.cost == 0.25);
  CHECK(c.per == 90min);
  CHECK(c.key.empty());
  const auto& plain = r.cfg->triggers[2].flow.budget;
  CHECK_FALSE(plain.on());
  CHECK(r.cfg->triggers[2].flow == flow_policy{});
  // The largest run budget is accepted.
  auto big = load(std::string{"triggers:\n"} + valid_trigger
                  + "    budget: {runs: 1000000000, cost: 1e15, per: 1s}\n");
  INFO(dump(big));
  REQUIRE(big.ok());
  CHECK(big.cfg->triggers.at(0).flow.budget.runs == 1'000'000'000);
  CHECK(big.cfg->triggers.at(0).flow.budget.cost == 1e15);
}

TEST_CASE("config: reports invalid budgets at their line",
          "[runtime][config][flow]") {
  auto with = [](const std::string& lines) {
    return std::string{"triggers:\n"} + valid_trigger + lines;
  };
  check_one_error(with("    budget: {per: 1d}\n"), 5,
                  "triggers.t.budget: missing required key \"runs\" (runs "
                  "and/or cost");
  check_one_error(with("    budget: {per: 1d, key: k}\n"), 5,
                  "triggers.t.budget: missing required key \"runs\" (runs "
                  "and/or cost");
  check_one_error(with("    budget: {runs: 1}\n"), 5,
                  "triggers.t.budget: missing required key \"per\"");
  check_one_error(with("    budget: {cost: 0, per: 1d}\n"), 5,
                  "triggers.t.budget.cost: expected a number greater than 0, "
                  "got \"0\"");
  check_one_error(with("    budget: {cost: -1, per: 1d}\n"), 5,
                  "triggers.t.budget.cost: expected a number greater than 0, "
                  "got \"-1\"");
  check_one_error(with("    budget: {cost: abc, per: 1d}\n"), 5,
                  "triggers.t.budget.cost: expected a number greater than 0, "
                  "got \"abc\"");
  check_one_error(with("    budget: {cost: .nan, per: 1d}\n"), 5,
                  "triggers.t.budget.cost: expected a number greater than 0, "
                  "got \".nan\"");
  check_one_error(with("    budget: {cost: 1e16, per: 1d}\n"), 5,
                  "triggers.t.budget.cost: expected a number greater than 0, "
                  "got \"1e16\"");
  check_one_error(with("    budget: {cost: [1], per: 1d}\n"), 5,
                  "triggers.t.budget.cost: expected a number greater than 0, "
                  "got a list");
  check_one_error(with("    budget: {runs: 0, per: 1d}\n"), 5,
                  "triggers.t.budget.runs: expected an integer from 1 to "
                  "1000000000, got \"0\"");
  check_one_error(with("    budget: {runs: 1000000001, per: 1d}\n"), 5,
                  "triggers.t.budget.runs: expected an integer from 1 to "
                  "1000000000, got \"1000000001\"");
  check_one_error(with("    budget: {runs: -1, per: 1d}\n"), 5,
                  "triggers.t.budget.runs: expected an integer from 1 to "
                  "1000000000, got \"-1\"");
  check_one_error(with("    budget:\n      runs: 1\n      per: 0s\n"), 7,
                  "triggers.t.budget.per: must be greater than 0, got \"0s\"");
  check_one_error(with("    budget:\n      cost: 2\n      per: 5x\n"), 7,
                  "triggers.t.budget.per: invalid duration \"5x\"");
  check_one_error(with("    budget:\n      runs: 1\n      per: 1d\n"
                       "      window: 1h\n"),
                  8,
                  "triggers.t.budget.window: unknown key (expected one of: "
                  "runs, cost, per, key)");
  check_one_error(with("    budget: {runs: 1, per: 1d, key: \"\"}\n"), 5,
                  "triggers.t.budget.key: expected a non-empty string");
  check_one_error(with("    budget: {runs: 1, per: 1d, key: \"{{data.x\"}\n"),
                  5, "triggers.t.budget.key: unclosed \"{{\"");
  check_one_error(with("    budget: 100\n"), 5,
                  "triggers.t.budget: expected a map with runs, cost, per, "
                  "key, got the scalar \"100\"");
  SECTION("the error formats as file:line:column") {
    auto r = load(with("    budget:\n      cost: abc\n      per: 1d\n"));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].to_string()
          == "rouse.yaml:6:13: triggers.t.budget.cost: expected a number "
             "greater than 0, got \"abc\"");
  }
  SECTION("every invalid field of a budget is reported") {
    auto r = load(with("    budget:\n      runs: 0\n      cost: 0\n"
                       "      per: 0s\n"));
    INFO(dump(r));
    REQUIRE(r.errors.size() == 3);
    CHECK(r.errors[0].line == 6);
    CHECK(r.errors[1].line == 7);
    CHECK(r.errors[2].line == 8);
  }
}

TEST_CASE("config: budgets in JSON round-trip through to_json",
          "[runtime][config][trigger_json][flow]") {
  auto t = parse_trigger_json(
      R"({"name": "t", "on": {}, "run": {"exec": ["a"]},
          "budget": {"runs": 100, "cost": 2.5, "per": "1d",
                     "key": "{{data.repo}}"}})",
      "/base");
  REQUIRE(t);
  CHECK(t->flow.budget.runs == 100);
  CHECK(t->flow.budget.cost == 2.5);
  CHECK(t->flow.budget.per == 24h);
  CHECK(t->flow.budget.key == "{{data.repo}}");
  auto json = to_json(*t);
  CHECK_THAT(json, Contains(R"("budget":{"runs":100,"cost":2.5,"per":"1d",)"
                            R"("key":"{{data.repo}}"})"));
  auto back = parse_trigger_json(json, "/base");
  REQUIRE(back);
  CHECK(back->flow == t->flow);
  CHECK(back->flow.budget.cost == 2.5);
  CHECK(to_json(*back) == json);

  SECTION("a budget with only runs or only cost writes only that") {
    auto runs = parse_trigger_json(
        R"({"name": "r", "on": {}, "run": {"exec": ["a"]},
            "budget": {"runs": 3, "per": 3600}})",
        "/base");
    REQUIRE(runs);
    CHECK(runs->flow.budget.runs == 3);
    CHECK(runs->flow.budget.cost == 0);
    CHECK(runs->flow.budget.per == 1h);
    auto text = to_json(*runs);
    CHECK_THAT(text, Contains(R"("budget":{"runs":3,"per":"1h"})"));
    auto runs_back = parse_trigger_json(text, "/base");
    REQUIRE(runs_back);
    CHECK(runs_back->flow == runs->flow);

    auto cost = parse_trigger_json(
        R"({"name": "c", "on": {}, "run": {"exec": ["a"]},
            "budget": {"cost": 0.1, "per": "90s"}})",
        "/base");
    REQUIRE(cost);
    CHECK(cost->flow.budget.runs == 0);
    CHECK(cost->flow.budget.cost == 0.1);
    text = to_json(*cost);
    CHECK_THAT(text, Contains(R"("budget":{"cost":0.1,"per":"90s"})"));
    auto cost_back = parse_trigger_json(text, "/base");
    REQUIRE(cost_back);
    CHECK(cost_back->flow == cost->flow);
  }
  SECTION("costs that need every digit round-trip exactly") {
    for (double c : {1.0 / 3, 1e15, 123456.789, 5e-7, 7.0}) {
      trigger_config trg = *t;
      trg.flow.budget.cost = c;
      auto text = to_json(trg);
      auto again = parse_trigger_json(text, "/base");
      INFO(text);
      REQUIRE(again);
      CHECK(again->flow.budget.cost == c);
      CHECK(again->flow == trg.flow);
    }
  }
  SECTION("a trigger without a budget writes none") {
    auto p = parse_trigger_json(R"({"name": "p", "on": {},
                                    "run": {"exec": ["a"]}})",
                                "/base");
    REQUIRE(p);
    CHECK_FALSE(p->flow.budget.on());
    CHECK_THAT(to_json(*p), !Contains("budget"));
  }
  SECTION("a budget loaded from YAML round-trips") {
    auto r = load("triggers:\n  y:\n    on: {}\n    run: {exec: [a]}\n"
                  "    budget: {runs: 100, cost: 2.5, per: 1d, "
                  "key: \"{{data.repo}}\"}\n");
    INFO(dump(r));
    REQUIRE(r.ok());
    const auto& y = r.cfg->triggers.at(0);
    auto again = parse_trigger_json(to_json(y), "/base");
    REQUIRE(again);
    CHECK(again->flow == y.flow);
    CHECK(again->flow.budget.key == "{{data.repo}}");
  }
}

TEST_CASE("config: an invalid budget in JSON names its path",
          "[runtime][config][trigger_json][flow]") {
  auto error_of = json_trigger_error;
  CHECK_THAT(error_of(R"("budget": {"per": "1d"})"),
             StartsWith("budget.runs: missing (runs and/or cost"));
  CHECK_THAT(error_of(R"("budget": {"per": "1d", "key": "k"})"),
             StartsWith("budget.runs: missing (runs and/or cost"));
  CHECK_THAT(error_of(R"("budget": {"runs": 1})"),
             StartsWith("budget.per: missing"));
  CHECK_THAT(error_of(R"("budget": {"cost": 0, "per": "1d"})"),
             StartsWith("budget.cost: expected a number greater than 0, got "
                        "0"));
  CHECK_THAT(error_of(R"("budget": {"cost": -1, "per": "1d"})"),
             StartsWith("budget.cost: expected a number greater than 0, got "
                        "-1"));
  CHECK_THAT(error_of(R"("budget": {"cost": "abc", "per": "1d"})"),
             StartsWith("budget.cost: expected a number greater than 0, got "
                        "\"abc\""));
  CHECK_THAT(error_of(R"("budget": {"cost": 1e16, "per": "1d"})"),
             StartsWith("budget.cost: expected a number greater than 0"));
  CHECK_THAT(error_of(R"("budget": {"cost": null, "per": "1d"})"),
             StartsWith("budget.cost: expected a number greater than 0, got "
                        "null"));
  CHECK_THAT(error_of(R"("budget": {"runs": 0, "per": "1d"})"),
             StartsWith("budget.runs: expected an integer from 1 to "
                        "1000000000, got 0"));
  CHECK_THAT(error_of(R"("budget": {"runs": 1.5, "per": "1d"})"),
             StartsWith("budget.runs: expected an integer from 1 to "
                        "1000000000, got 1.5"));
  CHECK_THAT(error_of(R"("budget": {"runs": 1000000001, "per": "1d"})"),
             StartsWith("budget.runs: expected an integer from 1 to "
                        "1000000000"));
  CHECK_THAT(error_of(R"("budget": {"runs": 1, "per": "0s"})"),
             StartsWith("budget.per: must be greater than 0"));
  CHECK_THAT(error_of(R"("budget": {"runs": 1, "per": 0})"),
             StartsWith("budget.per: must be greater than 0"));
  CHECK_THAT(error_of(R"("budget": {"runs": 1, "per": "5x"})"),
             StartsWith("budget.per: "));
  CHECK_THAT(error_of(R"("budget": {"runs": 1, "per": "1d", "window": 1})"),
             StartsWith("budget.window: unknown key (expected one of: runs, "
                        "cost, per, key)"));
  CHECK_THAT(error_of(R"("budget": {"runs": 1, "per": "1d", "key": ""})"),
             StartsWith("budget.key: expected a non-empty string"));
  CHECK_THAT(error_of(R"("budget": {"runs": 1, "per": "1d", "key": "{{x"})"),
             StartsWith("budget.key: unclosed"));
  CHECK_THAT(error_of(R"("budget": 100)"),
             StartsWith("budget: expected an object with runs, cost, per, "
                        "key, got a number"));
}
