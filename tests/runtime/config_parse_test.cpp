// Tests of runtime/config scalar parsers (durations, sizes, listen addresses,
// names, positive numbers), secrets and the listen policy, and a trigger as
// JSON: round trip and the path of each error.
#include "runtime/config/config.hpp"

#include "messages/errc.hpp"
#include "tests/runtime/config_test_support.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace rouse::config;
using namespace rouse::config_test;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

// --- scalar parsers ----------------------------------------------------------

TEST_CASE("config: parse_duration accepts every unit", "[runtime][config]") {
  CHECK(parse_duration("200ms") == 200ms);
  CHECK(parse_duration("90s") == 90s);
  CHECK(parse_duration("15m") == 15min);
  CHECK(parse_duration("24h") == 24h);
  CHECK(parse_duration("1d") == 24h);
  CHECK(parse_duration("5") == 5s);
  CHECK(parse_duration("0") == 0ms);
  CHECK(parse_duration("007s") == 7s);
  CHECK(parse_duration("36500d") == max_duration);
}

TEST_CASE("config: parse_duration rejects garbage and overflow",
          "[runtime][config]") {
  for (auto text : {"5x", "-1s", "", "s", "1.5h", " 5s", "5s ", "5 s", "5S",
                    "5sec", "+5s", "1h30m", "0x10"}) {
    INFO("\"" << text << "\"");
    auto d = parse_duration(text);
    REQUIRE_FALSE(d);
    CHECK(rouse::is(d.error(), rouse::errc::invalid_config));
    CHECK_THAT(rouse::describe(d.error()), StartsWith("invalid duration"));
  }
  for (auto text : {"99999999999999999999s", "36501d", "876001h"}) {
    INFO(text);
    auto d = parse_duration(text);
    REQUIRE_FALSE(d);
    CHECK_THAT(rouse::describe(d.error()), Contains("is too large"));
  }
}

TEST_CASE("config: parse_size accepts every unit", "[runtime][config]") {
  CHECK(parse_size("0") == 0u);
  CHECK(parse_size("512") == 512u);
  CHECK(parse_size("7B") == 7u);
  CHECK(parse_size("1KB") == 1000u);
  CHECK(parse_size("1KiB") == 1024u);
  CHECK(parse_size("3MB") == 3000000u);
  CHECK(parse_size("2MiB") == 2u * 1024 * 1024);
  CHECK(parse_size("1GB") == 1000000000u);
  CHECK(parse_size("4GiB") == 4ull * 1024 * 1024 * 1024);
  CHECK(parse_size("18446744073709551615") == 18446744073709551615ull);
}

TEST_CASE("config: parse_size rejects garbage and overflow",
          "[runtime][config]") {
  for (auto text : {"5x", "-1", "", "KiB", "1kb", "1kib", "1.5MiB", "1 MiB",
                    "1TiB", "1MiBs"}) {
    INFO("\"" << text << "\"");
    auto n = parse_size(text);
    REQUIRE_FALSE(n);
    CHECK(rouse::is(n.error(), rouse::errc::invalid_config));
    CHECK_THAT(rouse::describe(n.error()), StartsWith("invalid size"));
  }
  for (auto text : {"18446744073709551616", "17179869184GiB"}) {
    INFO(text);
    auto n = parse_size(text);
    REQUIRE_FALSE(n);
    CHECK_THAT(rouse::describe(n.error()), Contains("is too large"));
  }
}

TEST_CASE("config: parse_listen accepts IPv4, bracketed IPv6 and localhost",
          "[runtime][config]") {
  auto v4 = parse_listen("192.168.1.2:7700");
  REQUIRE(v4);
  CHECK(v4->host == "192.168.1.2");
  CHECK(v4->port == 7700);
  auto v6 = parse_listen("[::1]:0");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 0);
  auto local = parse_listen("localhost:65535");
  REQUIRE(local);
  CHECK(local->host == "localhost");
  CHECK(local->port == 65535);
  for (auto text : {"", ":7700", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536",
                    "1.2.3.4:-1", "1.2.3.4:80x", "256.1.1.1:80", "[::1]80",
                    "[::1:80", "[nope]:80", "host.example:80"}) {
    INFO("\"" << text << "\"");
    auto a = parse_listen(text);
    REQUIRE_FALSE(a);
    CHECK_THAT(rouse::describe(a.error()), StartsWith("invalid listen"));
  }
}

TEST_CASE("config: is_loopback knows 127.0.0.0/8, ::1 and localhost",
          "[runtime][config]") {
  CHECK(is_loopback("127.0.0.1"));
  CHECK(is_loopback("127.255.0.9"));
  CHECK(is_loopback("::1"));
  CHECK(is_loopback("0:0:0:0:0:0:0:1"));
  CHECK(is_loopback("localhost"));
  CHECK_FALSE(is_loopback("0.0.0.0"));
  CHECK_FALSE(is_loopback("::"));
  CHECK_FALSE(is_loopback("128.0.0.1"));
  CHECK_FALSE(is_loopback("10.0.0.1"));
  CHECK_FALSE(is_loopback("localhost.evil.example"));
  CHECK_FALSE(is_loopback(""));
}

TEST_CASE("config: is_valid_name allows [A-Za-z0-9_.-] up to 64 characters",
          "[runtime][config]") {
  CHECK(is_valid_name("review-pr"));
  CHECK(is_valid_name("a.b_C-9"));
  CHECK(is_valid_name(std::string(64, 'x')));
  CHECK_FALSE(is_valid_name(""));
  CHECK_FALSE(is_valid_name(std::string(65, 'x')));
  CHECK_FALSE(is_valid_name("with space"));
  CHECK_FALSE(is_valid_name("slash/name"));
  CHECK_FALSE(is_valid_name("ümlaut"));
}

TEST_CASE("config: format_duration picks the largest exact unit",
          "[runtime][config]") {
  CHECK(format_duration(0ms) == "0s");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(90s) == "90s");
  CHECK(format_duration(15min) == "15m");
  CHECK(format_duration(2h) == "2h");
  CHECK(format_duration(24h) == "1d");
}

TEST_CASE("config: parse_positive_number accepts finite numbers above 0",
          "[runtime][config]") {
  CHECK(parse_positive_number("0.5") == 0.5);
  CHECK(parse_positive_number("100") == 100.0);
  CHECK(parse_positive_number("2e3") == 2000.0);
  CHECK(parse_positive_number("1e15") == 1e15);
  CHECK(parse_positive_number("0.001") == 0.001);
}

TEST_CASE("config: parse_positive_number rejects the rest",
          "[runtime][config]") {
  for (const char* text :
       {"", "0", "0.0", "-0", "-1", "nan", "NaN", "inf", "-inf", "infinity",
        "1e16", "1e400", " 1", "1 ", "1x", "x1", "1,5", "--1", "."}) {
    INFO(std::string{"\""} + text + "\"");
    CHECK_FALSE(parse_positive_number(text).has_value());
  }
  // Not NUL-terminated: only the view's characters count.
  std::string_view prefix{"12x", 2};
  CHECK(parse_positive_number(prefix) == 12.0);
  CHECK_FALSE(parse_positive_number(std::string(65, '1')).has_value());
}

// --- secrets and the listen policy -------------------------------------------

TEST_CASE("config: requires an api_token when listening beyond loopback",
          "[runtime][config]") {
  SECTION("a wildcard IPv4 address without a token is an error") {
    check_one_error("node:\n  name: x\n  listen: 0.0.0.0:7700\n", 3,
                    "node.api_token: required when node.listen host "
                    "\"0.0.0.0\" is not a loopback address");
  }
  SECTION("a wildcard IPv6 address without a token is an error") {
    check_one_error("node:\n  listen: \"[::]:7700\"\n", 2,
                    "node.api_token: required");
  }
  SECTION("loopback addresses need no token") {
    for (auto listen :
         {"127.0.0.1:1", "127.9.8.7:0", "\"[::1]:80\"", "localhost:7700"}) {
      auto r = load(std::string{"node: {listen: "} + listen + "}\n");
      INFO(listen << "\n" << dump(r));
      CHECK(r.ok());
    }
  }
  SECTION("a token makes any address acceptable") {
    scoped_env token{"ROUSE_CONFIG_TEST_TOKEN", "t0ken"};
    auto r = load("node:\n  listen: 10.1.2.3:7700\n"
                  "  api_token: env:ROUSE_CONFIG_TEST_TOKEN\n");
    REQUIRE(r.ok());
    CHECK(r.cfg->node.listen_host == "10.1.2.3");
    CHECK(r.cfg->node.api_token == "t0ken");
  }
}

TEST_CASE("config: resolves env: secrets", "[runtime][config]") {
  SECTION("a set variable is the secret") {
    scoped_env token{"ROUSE_CONFIG_TEST_TOKEN", "abc123"};
    auto s = resolve_secret("env:ROUSE_CONFIG_TEST_TOKEN", "/base");
    REQUIRE(s);
    CHECK(*s == "abc123");
  }
  SECTION("an unset variable is an error naming it") {
    ::unsetenv("ROUSE_CONFIG_TEST_UNSET");
    check_one_error("node:\n  api_token: env:ROUSE_CONFIG_TEST_UNSET\n", 2,
                    "node.api_token: environment variable "
                    "ROUSE_CONFIG_TEST_UNSET is not set");
  }
  SECTION("an empty variable is an error naming it") {
    scoped_env empty{"ROUSE_CONFIG_TEST_EMPTY", ""};
    auto s = resolve_secret("env:ROUSE_CONFIG_TEST_EMPTY", "/base");
    REQUIRE_FALSE(s);
    CHECK(rouse::is(s.error(), rouse::errc::invalid_config));
    CHECK(rouse::describe(s.error())
          == "environment variable ROUSE_CONFIG_TEST_EMPTY is empty");
  }
  SECTION("env: without a name is an error") {
    auto s = resolve_secret("env:", "/base");
    REQUIRE_FALSE(s);
    CHECK_THAT(rouse::describe(s.error()), Contains("needs a variable name"));
  }
}

TEST_CASE("config: resolves file: secrets relative to the base directory",
          "[runtime][config]") {
  temp_dir dir;
  auto base = dir.path.string();
  SECTION("the contents without trailing newlines are the secret") {
    dir.write("token", "line one\nline two\r\n\n");
    auto s = resolve_secret("file:token", base);
    REQUIRE(s);
    CHECK(*s == "line one\nline two");
  }
  SECTION("an absolute path ignores the base directory") {
    auto path = dir.write("abs", "xyz");
    auto s = resolve_secret("file:" + path, "/nonexistent");
    REQUIRE(s);
    CHECK(*s == "xyz");
  }
  SECTION("an unreadable file is an error naming the path") {
    auto s = resolve_secret("file:missing", base);
    REQUIRE_FALSE(s);
    CHECK(rouse::is(s.error(), rouse::errc::invalid_config));
    CHECK_THAT(rouse::describe(s.error()),
               Contains(base + "/missing") && Contains("No such file"));
  }
  SECTION("an empty file is an error") {
    dir.write("empty", "\n");
    auto s = resolve_secret("file:empty", base);
    REQUIRE_FALSE(s);
    CHECK_THAT(rouse::describe(s.error()), Contains("is empty"));
  }
  SECTION("an oversized file is an error") {
    dir.write("big", std::string(70000, 'x'));
    auto s = resolve_secret("file:big", base);
    REQUIRE_FALSE(s);
    CHECK_THAT(rouse::describe(s.error()), Contains("is larger than"));
  }
}

TEST_CASE("config: rejects inline secrets without echoing them",
          "[runtime][config]") {
  auto r = load("node:\n  api_token: hunter2\n");
  INFO(dump(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].line == 2);
  CHECK(r.errors[0].message
        == "node.api_token: secrets are never inline: use env:NAME or "
           "file:PATH");
  CHECK_THAT(r.errors[0].message, !Contains("hunter2"));
  for (auto spec : {"", "ENV:X", "env", "secret:x", "file"}) {
    auto s = resolve_secret(spec, "/base");
    INFO(spec);
    REQUIRE_FALSE(s);
    CHECK(rouse::describe(s.error())
          == "secrets are never inline: use env:NAME or file:PATH");
  }
}

// --- triggers as JSON --------------------------------------------------------

TEST_CASE("config: a trigger in JSON round-trips through to_json",
          "[runtime][config][trigger_json]") {
  auto t = parse_trigger_json(
      R"({"name": "review", "on": {"type": ["github.pull_request"],
          "data": {"action": ["opened"]}},
          "run": {"exec": ["./review.sh", "{{data.number}}"], "cwd": "work",
                  "env": {"A": "1"}, "timeout": "90s", "kill_grace": 2},
          "concurrency": {"limit": 2}, "enabled": false})",
      "/base");
  REQUIRE(t);
  CHECK(t->name == "review");
  CHECK(t->on
        == R"({"type":["github.pull_request"],"data":{"action":["opened"]}})");
  CHECK(t->pattern != nullptr);
  CHECK(t->run.exec
        == std::vector<std::string>{"/base/review.sh", "{{data.number}}"});
  CHECK(t->run.cwd == "/base/work");
  CHECK(t->run.timeout == 90s);
  CHECK(t->run.kill_grace == 2s);
  CHECK(t->concurrency == 2);
  CHECK_FALSE(t->enabled);
  auto again = parse_trigger_json(to_json(*t), "/elsewhere");
  REQUIRE(again);
  CHECK(to_json(*again) == to_json(*t));
  SECTION("a PUT body may leave the name to the path") {
    auto named = parse_trigger_json(R"({"on": {}, "run": {"actor": "bot"}})",
                                    "/base", "from-path");
    REQUIRE(named);
    CHECK(named->name == "from-path");
    CHECK(named->run.actor == "bot");
  }
}

TEST_CASE("config: an invalid JSON trigger names the path of the problem",
          "[runtime][config][trigger_json]") {
  auto error_of = [](const std::string& json) {
    auto t = parse_trigger_json(json, "/base");
    REQUIRE_FALSE(t);
    return rouse::describe(t.error());
  };
  const std::string run = R"("run": {"exec": ["a"]})";
  CHECK_THAT(error_of("[1]"), StartsWith("expected a JSON object"));
  CHECK_THAT(error_of("{"), StartsWith("invalid JSON"));
  CHECK_THAT(error_of(R"({"on": {}, )" + run + "}"),
             StartsWith("name: missing"));
  CHECK_THAT(error_of(R"({"name": "a b", "on": {}, )" + run + "}"),
             StartsWith("name: invalid name"));
  CHECK_THAT(error_of(R"({"name": "t", )" + run + "}"),
             StartsWith("on: missing"));
  CHECK_THAT(
      error_of(R"({"name": "t", "on": {"data": {"n": [{"numeric": [">"]}]}}, )"
               + run + "}"),
      StartsWith("on.data.n: numeric needs an operator and a number"));
  CHECK_THAT(error_of(R"({"name": "t", "on": {}})"),
             StartsWith("run: missing"));
  CHECK_THAT(error_of(R"({"name": "t", "on": {}, "run": {"exec": []}})"),
             StartsWith("run.exec: expected a non-empty array"));
  CHECK_THAT(error_of(R"({"name": "t", "on": {}, "run": {"exec": ["a"],
                          "actor": "b"}})"),
             StartsWith("run: set exactly one"));
  CHECK_THAT(error_of(R"({"name": "t", "on": {}, "run": {"exec": ["a"],
                          "timeout": "5x"}})"),
             StartsWith("run.timeout: "));
  CHECK_THAT(error_of(R"({"name": "t", "on": {}, "run": {"exec": ["a"],
                          "env": {"X": 1}}})"),
             StartsWith("run.env.X: expected a string"));
  CHECK_THAT(error_of(R"({"name": "t", "on": {}, "run": {"exec": ["a"]},
                          "concurrency": -1})"),
             StartsWith("concurrency: expected an integer"));
  CHECK_THAT(error_of(R"({"name": "t", "on": {}, "run": {"exec": ["a"]},
                          "colour": 1})"),
             StartsWith("colour: unknown key"));
}
