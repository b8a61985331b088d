// Tests of runtime/config flow policies (concurrency keys, rate, debounce,
// batch, priority, singleton, queue, circuit) and retry: loaded from YAML,
// their defaults and errors, and triggers with them in JSON.
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

TEST_CASE("config: retry policies in YAML and JSON", "[runtime][config]") {
  auto r = load("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n"
                "    retry: {attempts: 5, backoff: 2s, max_backoff: 1m, "
                "jitter: 0.5}\n");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& retry = r.cfg->triggers.at(0).retry;
  CHECK(retry.attempts == 5);
  CHECK(retry.backoff == 2s);
  CHECK(retry.max_backoff == 1min);
  CHECK(retry.jitter == 0.5);
  auto json = to_json(r.cfg->triggers.at(0));
  CHECK_THAT(json, Contains(R"("retry":{"attempts":5,"backoff":"2s",)"
                            R"("max_backoff":"1m","jitter":0.5})"));
  auto back = parse_trigger_json(json, "/base");
  REQUIRE(back);
  CHECK(back->retry.attempts == 5);
  CHECK(back->retry.max_backoff == 1min);
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n"
                  "    retry: {attempts: 0}\n",
                  5, "triggers.t.retry.attempts: expected an integer from 1");
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n"
                  "    retry: {jitter: 2}\n",
                  5, "triggers.t.retry.jitter: expected a number from 0 to 1");
  auto bad = parse_trigger_json(
      R"({"name": "t", "on": {}, "run": {"exec": ["a"]},
          "retry": {"attempts": 101}})",
      "/base");
  REQUIRE_FALSE(bad);
  CHECK_THAT(rouse::describe(bad.error()), StartsWith("retry.attempts"));
}

TEST_CASE("config: loads every field of every flow policy",
          "[runtime][config][flow]") {
  auto r =
      load("triggers:\n"
           "  t:\n"
           "    on: {type: x}\n"
           "    run: {exec: [a]}\n"
           "    concurrency: {limit: 2, key: \"{{subject}}\"}\n"
           "    rate: {limit: 10, per: 1m, key: \"{{data.repo}}\", "
           "mode: drop}\n"
           "    debounce: {period: 5s, max_wait: 1m, key: branch}\n"
           "    priority: {value: \"{{data.prio}}\", aging: 30s}\n"
           "    singleton: {key: \"{{data.pr}}\", mode: cancel}\n"
           "    queue: {max: 100, on_full: latest_wins}\n"
           "    circuit: {failures: 5, cool_off: 2m, mode: dlq}\n"
           "  b:\n"
           "    on: {type: y}\n"
           "    run: {exec: [a]}\n"
           "    batch: {max_size: 50, max_wait: 10s, key: \"{{source}}\"}\n"
           "    priority: -3\n"
           "    singleton: true\n"
           "    queue: {max: 10000000, on_full: drop_oldest}\n"
           "  c:\n"
           "    on: {}\n"
           "    run: {exec: [a]}\n"
           "    concurrency: 4\n"
           "    priority: \"{{data.p}}\"\n"
           "    singleton: false\n");
  INFO(dump(r));
  REQUIRE(r.ok());
  REQUIRE(r.cfg->triggers.size() == 3);
  const auto& t = r.cfg->triggers[0];
  CHECK(t.concurrency == 2);
  CHECK(t.flow.concurrency_key == "{{subject}}");
  CHECK(t.flow.rate.limit == 10);
  CHECK(t.flow.rate.per == 1min);
  CHECK(t.flow.rate.key == "{{data.repo}}");
  CHECK(t.flow.rate.mode == flow_policy::rate_policy::drop);
  CHECK(t.flow.debounce.period == 5s);
  CHECK(t.flow.debounce.max_wait == 1min);
  CHECK(t.flow.debounce.key == "branch");
  CHECK(t.flow.batch.max_size == 0);
  CHECK(t.flow.priority.value == "{{data.prio}}");
  CHECK(t.flow.priority.aging == 30s);
  CHECK(t.flow.singleton.enabled);
  CHECK(t.flow.singleton.key == "{{data.pr}}");
  CHECK(t.flow.singleton.mode == flow_policy::singleton_policy::cancel);
  CHECK(t.flow.queue.max == 100);
  CHECK(t.flow.queue.on_full == flow_policy::queue_policy::latest_wins);
  CHECK(t.flow.circuit.failures == 5);
  CHECK(t.flow.circuit.cool_off == 2min);
  CHECK(t.flow.circuit.mode == flow_policy::circuit_policy::dlq);
  const auto& b = r.cfg->triggers[1];
  CHECK(b.flow.circuit.failures == 0);
  CHECK(b.flow.batch.max_size == 50);
  CHECK(b.flow.batch.max_wait == 10s);
  CHECK(b.flow.batch.key == "{{source}}");
  CHECK(b.flow.debounce.period == 0ms);
  CHECK(b.flow.priority.value == "-3");
  CHECK(b.flow.priority.aging == 1min);
  CHECK(b.flow.singleton.enabled);
  CHECK(b.flow.singleton.key.empty());
  CHECK(b.flow.queue.max == 10'000'000);
  CHECK(b.flow.queue.on_full == flow_policy::queue_policy::drop_oldest);
  const auto& c = r.cfg->triggers[2];
  CHECK(c.concurrency == 4);
  CHECK(c.flow.concurrency_key.empty());
  CHECK(c.flow.priority.value == "{{data.p}}");
  CHECK_FALSE(c.flow.singleton.enabled);
}

TEST_CASE("config: flow policies default every optional field",
          "[runtime][config][flow]") {
  auto r = load(std::string{"triggers:\n"} + valid_trigger
                + "    rate: {limit: 5}\n"
                  "    debounce: {period: 2s, max_wait: 0s}\n"
                  "    priority: {value: \"007\"}\n"
                  "    singleton: {}\n"
                  "    queue: {max: 1}\n"
                  "  plain:\n"
                  "    on: {}\n"
                  "    run: {exec: [a]}\n");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& f = r.cfg->triggers.at(0).flow;
  CHECK(f.rate.limit == 5);
  CHECK(f.rate.per == 1s);
  CHECK(f.rate.key.empty());
  CHECK(f.rate.mode == flow_policy::rate_policy::delay);
  CHECK(f.debounce.period == 2s);
  CHECK(f.debounce.max_wait == 0ms);
  CHECK(f.priority.value == "7");
  CHECK(f.priority.aging == 1min);
  CHECK(f.singleton.enabled);
  CHECK(f.singleton.mode == flow_policy::singleton_policy::skip);
  CHECK(f.queue.max == 1);
  CHECK(f.queue.on_full == flow_policy::queue_policy::reject);
  CHECK(r.cfg->triggers.at(1).flow == flow_policy{});
}

TEST_CASE("config: reports invalid flow policies at their line",
          "[runtime][config][flow]") {
  auto with = [](const std::string& lines) {
    return std::string{"triggers:\n"} + valid_trigger + lines;
  };
  SECTION("concurrency") {
    check_one_error(with("    concurrency: {key: x}\n"), 5,
                    "triggers.t.concurrency: missing required key \"limit\"");
    check_one_error(with("    concurrency: {limit: 0, key: x}\n"), 5,
                    "triggers.t.concurrency.limit: a key needs a limit of at "
                    "least 1");
    check_one_error(with("    concurrency: {limit: 1, key: \"{{data.x\"}\n"), 5,
                    "triggers.t.concurrency.key: unclosed \"{{\"");
    check_one_error(with("    concurrency: {limit: 1, key: \"\"}\n"), 5,
                    "triggers.t.concurrency.key: expected a non-empty string");
  }
  SECTION("rate") {
    check_one_error(with("    rate: {limit: 0}\n"), 5,
                    "triggers.t.rate.limit: expected an integer from 1 to "
                    "1000000, got \"0\"");
    check_one_error(with("    rate: {per: 1s}\n"), 5,
                    "triggers.t.rate: missing required key \"limit\"");
    check_one_error(with("    rate:\n      limit: 1\n      per: 0s\n"), 7,
                    "triggers.t.rate.per: must be greater than 0, got \"0s\"");
    check_one_error(with("    rate: {limit: 1, mode: wait}\n"), 5,
                    "triggers.t.rate.mode: expected delay or drop, got "
                    "\"wait\"");
    check_one_error(with("    rate: {limit: 1, burst: 2}\n"), 5,
                    "triggers.t.rate.burst: unknown key");
    check_one_error(with("    rate: 10\n"), 5,
                    "triggers.t.rate: expected a map with limit, per, key, "
                    "mode, got the scalar \"10\"");
  }
  SECTION("debounce") {
    check_one_error(with("    debounce: {max_wait: 1m}\n"), 5,
                    "triggers.t.debounce: missing required key \"period\"");
    check_one_error(with("    debounce: {period: 0ms}\n"), 5,
                    "triggers.t.debounce.period: must be greater than 0");
    check_one_error(with("    debounce:\n      period: 10s\n"
                         "      max_wait: 5s\n"),
                    7,
                    "triggers.t.debounce.max_wait: must be 0 (no cap) or at "
                    "least the period (10s), got \"5s\"");
  }
  SECTION("batch") {
    check_one_error(with("    batch: {max_size: 10001, max_wait: 1s}\n"), 5,
                    "triggers.t.batch.max_size: expected an integer from 1 "
                    "to 10000, got \"10001\"");
    check_one_error(with("    batch: {max_size: 10}\n"), 5,
                    "triggers.t.batch: missing required key \"max_wait\"");
    check_one_error(with("    batch: {max_size: 10, max_wait: 0s}\n"), 5,
                    "triggers.t.batch.max_wait: must be greater than 0");
  }
  SECTION("priority") {
    check_one_error(with("    priority: high\n"), 5,
                    "triggers.t.priority: expected an integer or a "
                    "\"{{path}}\" template, got \"high\"");
    check_one_error(with("    priority: {{data.p}}\n"), 5,
                    "triggers.t.priority: expected an integer, a \"{{path}}\" "
                    "template or {value, aging}, got a map (quote templates: "
                    "\"{{...}}\")");
    check_one_error(with("    priority: \"{{data.p\"\n"), 5,
                    "triggers.t.priority: unclosed \"{{\"");
    check_one_error(with("    priority: [1]\n"), 5,
                    "triggers.t.priority: expected an integer, a \"{{path}}\" "
                    "template or {value, aging}, got a list");
    check_one_error(with("    priority: {aging: 1m}\n"), 5,
                    "triggers.t.priority: missing required key \"value\"");
    check_one_error(with("    priority: {value: 1, aging: 0s}\n"), 5,
                    "triggers.t.priority.aging: must be greater than 0");
    check_one_error(with("    priority: 99999999999999999999\n"), 5,
                    "triggers.t.priority: expected an integer or a");
  }
  SECTION("singleton") {
    check_one_error(with("    singleton: maybe\n"), 5,
                    "triggers.t.singleton: expected true, false or {key, "
                    "mode}, got the scalar \"maybe\"");
    check_one_error(with("    singleton: {mode: kill}\n"), 5,
                    "triggers.t.singleton.mode: expected skip or cancel, got "
                    "\"kill\"");
  }
  SECTION("queue") {
    check_one_error(with("    queue: {max: 0}\n"), 5,
                    "triggers.t.queue.max: expected an integer from 1 to "
                    "10000000, got \"0\"");
    check_one_error(with("    queue: {on_full: reject}\n"), 5,
                    "triggers.t.queue: missing required key \"max\"");
    check_one_error(with("    queue: {max: 1, on_full: block}\n"), 5,
                    "triggers.t.queue.on_full: expected reject, drop_oldest "
                    "or latest_wins, got \"block\"");
  }
  SECTION("circuit") {
    check_one_error(with("    circuit: {failures: 0}\n"), 5,
                    "triggers.t.circuit.failures: expected an integer from 1 "
                    "to 1000, got \"0\"");
    check_one_error(with("    circuit: {cool_off: 1m}\n"), 5,
                    "triggers.t.circuit: missing required key \"failures\"");
    check_one_error(with("    circuit: {failures: 3, mode: stop}\n"), 5,
                    "triggers.t.circuit.mode: expected queue or dlq, got "
                    "\"stop\"");
  }
}

TEST_CASE("config: debounce and batch cannot be combined",
          "[runtime][config][flow]") {
  auto with = [](const std::string& lines) {
    return std::string{"triggers:\n"} + valid_trigger + lines;
  };
  check_one_error(with("    debounce: {period: 1s}\n"
                       "    batch: {max_size: 2, max_wait: 1s}\n"),
                  6, "triggers.t: debounce and batch cannot be combined");
  check_one_error(with("    batch: {max_size: 2, max_wait: 1s}\n"
                       "    retry: {attempts: 2}\n"
                       "    debounce: {period: 1s}\n"),
                  7, "triggers.t: debounce and batch cannot be combined");
}

TEST_CASE("config: flow policies in JSON round-trip through to_json",
          "[runtime][config][trigger_json][flow]") {
  auto t = parse_trigger_json(
      R"({"name": "t", "on": {}, "run": {"exec": ["a"]},
          "concurrency": {"limit": 3, "key": "{{subject}}"},
          "rate": {"limit": 10, "per": "1m", "key": "{{data.repo}}",
                   "mode": "drop"},
          "debounce": {"period": "5s", "max_wait": "1m", "key": "k"},
          "priority": {"value": "{{data.prio}}", "aging": "30s"},
          "singleton": {"key": "{{data.pr}}", "mode": "cancel"},
          "queue": {"max": 100, "on_full": "latest_wins"},
          "circuit": {"failures": 3}})",
      "/base");
  REQUIRE(t);
  CHECK(t->concurrency == 3);
  CHECK(t->flow.concurrency_key == "{{subject}}");
  CHECK(t->flow.rate.limit == 10);
  CHECK(t->flow.rate.per == 1min);
  CHECK(t->flow.rate.key == "{{data.repo}}");
  CHECK(t->flow.rate.mode == flow_policy::rate_policy::drop);
  CHECK(t->flow.debounce.period == 5s);
  CHECK(t->flow.debounce.max_wait == 1min);
  CHECK(t->flow.debounce.key == "k");
  CHECK(t->flow.priority.value == "{{data.prio}}");
  CHECK(t->flow.priority.aging == 30s);
  CHECK(t->flow.singleton.enabled);
  CHECK(t->flow.singleton.key == "{{data.pr}}");
  CHECK(t->flow.singleton.mode == flow_policy::singleton_policy::cancel);
  CHECK(t->flow.queue.max == 100);
  CHECK(t->flow.queue.on_full == flow_policy::queue_policy::latest_wins);
  CHECK(t->flow.circuit.failures == 3);
  CHECK(t->flow.circuit.cool_off == 1min);
  CHECK(t->flow.circuit.mode == flow_policy::circuit_policy::queue);
  auto json = to_json(*t);
  CHECK_THAT(json, Contains(R"("circuit":{"failures":3,"cool_off":"1m",)"
                            R"("mode":"queue"})"));
  auto back = parse_trigger_json(json, "/base");
  REQUIRE(back);
  CHECK(back->flow == t->flow);
  CHECK_THAT(json,
             Contains(R"("concurrency":{"limit":3,"key":"{{subject}}"})"));
  CHECK_THAT(json, Contains(R"("rate":{"limit":10,"per":"1m",)"
                            R"("key":"{{data.repo}}","mode":"drop"})"));
  CHECK_THAT(json, Contains(R"("priority":{"value":"{{data.prio}}",)"
                            R"("aging":"30s"})"));
  auto again = parse_trigger_json(json, "/base");
  REQUIRE(again);
  CHECK(again->concurrency == t->concurrency);
  CHECK(again->flow == t->flow);
  CHECK(to_json(*again) == json);

  SECTION("defaults, numbers and the other policies") {
    auto d = parse_trigger_json(
        R"({"name": "d", "on": {}, "run": {"exec": ["a"]},
            "concurrency": 2, "rate": {"limit": 5},
            "batch": {"max_size": 50, "max_wait": 10, "key": "{{source}}"},
            "priority": -3, "singleton": true, "queue": {"max": 7}})",
        "/base");
    REQUIRE(d);
    CHECK(d->flow.rate.per == 1s);
    CHECK(d->flow.rate.mode == flow_policy::rate_policy::delay);
    CHECK(d->flow.batch.max_size == 50);
    CHECK(d->flow.batch.max_wait == 10s);
    CHECK(d->flow.priority.value == "-3");
    CHECK(d->flow.priority.aging == 1min);
    CHECK(d->flow.singleton.enabled);
    CHECK(d->flow.singleton.mode == flow_policy::singleton_policy::skip);
    CHECK(d->flow.queue.on_full == flow_policy::queue_policy::reject);
    auto text = to_json(*d);
    CHECK_THAT(text, Contains(R"("concurrency":2,)"));
    CHECK_THAT(text, Contains(R"("priority":{"value":-3,"aging":"1m"})"));
    CHECK_THAT(text, Contains(R"("singleton":{"mode":"skip"})"));
    CHECK_THAT(text, Contains(R"("queue":{"max":7,"on_full":"reject"})"));
    auto back = parse_trigger_json(text, "/base");
    REQUIRE(back);
    CHECK(back->flow == d->flow);
    CHECK(to_json(*back) == text);
  }
  SECTION("a trigger without policies writes none") {
    auto p = parse_trigger_json(R"({"name": "p", "on": {},
                                    "run": {"exec": ["a"]}})",
                                "/base");
    REQUIRE(p);
    CHECK(p->flow == flow_policy{});
    auto text = to_json(*p);
    for (auto key :
         {"rate", "debounce", "batch", "priority", "singleton", "queue"})
      CHECK_THAT(text, !Contains(std::string{"\""} + key + "\""));
  }
  SECTION("every policy loaded from YAML round-trips") {
    auto r = load("triggers:\n  y:\n    on: {}\n    run: {exec: [a]}\n"
                  "    concurrency: {limit: 1, key: all}\n"
                  "    batch: {max_size: 9, max_wait: 250ms}\n"
                  "    priority: 12\n"
                  "    singleton: {mode: cancel}\n"
                  "    queue: {max: 3, on_full: drop_oldest}\n"
                  "    rate: {limit: 2, per: 90s, key: \"{{type}}\"}\n");
    INFO(dump(r));
    REQUIRE(r.ok());
    const auto& y = r.cfg->triggers.at(0);
    auto back = parse_trigger_json(to_json(y), "/base");
    REQUIRE(back);
    CHECK(back->concurrency == 1);
    CHECK(back->flow == y.flow);
  }
}

TEST_CASE("config: an invalid flow policy in JSON names its path",
          "[runtime][config][trigger_json][flow]") {
  auto error_of = json_trigger_error;
  CHECK_THAT(error_of(R"("concurrency": {"key": "x"})"),
             StartsWith("concurrency.limit: missing"));
  CHECK_THAT(error_of(R"("concurrency": {"limit": 0, "key": "x"})"),
             StartsWith("concurrency.limit: a key needs a limit of at least "
                        "1"));
  CHECK_THAT(error_of(R"("concurrency": {"limit": 1, "key": "{{x"})"),
             StartsWith("concurrency.key: unclosed"));
  CHECK_THAT(error_of(R"("rate": {"limit": 0})"),
             StartsWith("rate.limit: expected an integer from 1 to 1000000, "
                        "got 0"));
  CHECK_THAT(error_of(R"("rate": {"per": "1s"})"),
             StartsWith("rate.limit: missing"));
  CHECK_THAT(error_of(R"("rate": {"limit": 1, "per": "0s"})"),
             StartsWith("rate.per: must be greater than 0"));
  CHECK_THAT(error_of(R"("rate": {"limit": 1, "mode": "wait"})"),
             StartsWith("rate.mode: expected delay or drop, got \"wait\""));
  CHECK_THAT(error_of(R"("rate": {"limit": 1, "key": ""})"),
             StartsWith("rate.key: expected a non-empty string"));
  CHECK_THAT(error_of(R"("rate": 5)"),
             StartsWith("rate: expected an object with limit, per, key, "
                        "mode"));
  CHECK_THAT(error_of(R"("debounce": {"max_wait": "1m"})"),
             StartsWith("debounce.period: missing"));
  CHECK_THAT(error_of(R"("debounce": {"period": "10s", "max_wait": "5s"})"),
             StartsWith("debounce.max_wait: must be 0 (no cap) or at least "
                        "the period (10s), got \"5s\""));
  CHECK_THAT(error_of(R"("debounce": {"period": "1s"},
                         "batch": {"max_size": 2, "max_wait": "1s"})"),
             StartsWith("batch: debounce and batch cannot be combined"));
  CHECK_THAT(error_of(R"("batch": {"max_size": 10})"),
             StartsWith("batch.max_wait: missing"));
  CHECK_THAT(error_of(R"("batch": {"max_size": 10001, "max_wait": "1s"})"),
             StartsWith("batch.max_size: expected an integer from 1 to "
                        "10000"));
  CHECK_THAT(error_of(R"("priority": 1.5)"),
             StartsWith("priority: expected an integer or a \"{{path}}\" "
                        "template, got 1.5"));
  CHECK_THAT(error_of(R"("priority": "high")"),
             StartsWith("priority: expected an integer or a \"{{path}}\" "
                        "template, got \"high\""));
  CHECK_THAT(error_of(R"("priority": {"value": "{{data.x"})"),
             StartsWith("priority.value: unclosed"));
  CHECK_THAT(error_of(R"("priority": {"aging": "1m"})"),
             StartsWith("priority.value: missing"));
  CHECK_THAT(error_of(R"("priority": [1])"),
             StartsWith("priority: expected an integer, a \"{{path}}\" "
                        "template or an object"));
  CHECK_THAT(error_of(R"("singleton": "yes")"),
             StartsWith("singleton: expected true, false or an object"));
  CHECK_THAT(error_of(R"("singleton": {"mode": "kill"})"),
             StartsWith("singleton.mode: expected skip or cancel"));
  CHECK_THAT(error_of(R"("queue": {"max": 1, "on_full": "block"})"),
             StartsWith("queue.on_full: expected reject, drop_oldest or "
                        "latest_wins, got \"block\""));
  CHECK_THAT(error_of(R"("queue": {"max": 1, "size": 2})"),
             StartsWith("queue.size: unknown key"));
}
