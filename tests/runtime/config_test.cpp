// Tests of runtime/config loading YAML: every value and its default, paths
// resolved against the config directory, and the error of each key and of the
// file's structure, with its line. Flow policies, budgets and the scalar
// parsers are tested in config_{flow,budget,parse}_test.cpp.
#include "runtime/config/config.hpp"

#include "tests/runtime/config_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace rouse::config;
using namespace rouse::config_test;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

constexpr const char* full_config = R"(node:
  name: laptop
  data_dir: ./state
  listen: 0.0.0.0:8080
  api_token: env:ROUSE_CONFIG_TEST_TOKEN
  shards: 4
  durability: os
  dedup_window: 1h
  map_size: 2GiB
  max_body: 512KiB
  http_threads: 3
  output_cap: 1MB
  max_running: 7
sources:
  github: { kind: webhook, path: /hooks/github, verify: { scheme: github } }
  nightly:
    kind: cron
    schedule: "0 3 * * *"
triggers:
  hello:
    on: { source: [api, github], type: [demo.hello] }
    run:
      exec: [./scripts/hello.sh, "{{data.name}}"]
      cwd: ./work
      env: { FOO: bar, EMPTY: "" }
      timeout: 90s
      kill_grace: 200ms
    concurrency: 2
    enabled: false
  poke:
    on: { type: demo.poke }
    run: { actor: poker, timeout: 0 }
    concurrency: { limit: 1 }
)";

} // namespace

// --- loading valid configs ---------------------------------------------------

TEST_CASE("config: loads every field of a full config", "[runtime][config]") {
  scoped_env token{"ROUSE_CONFIG_TEST_TOKEN", "s3cret"};
  auto r = load(full_config, "/etc/rouse");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& cfg = *r.cfg;
  CHECK(cfg.file == "rouse.yaml");
  CHECK(cfg.base_dir == "/etc/rouse");
  const auto& node = cfg.node;
  CHECK(node.name == "laptop");
  CHECK(node.data_dir == "/etc/rouse/state");
  CHECK(node.listen_host == "0.0.0.0");
  CHECK(node.listen_port == 8080);
  CHECK(node.api_token == "s3cret");
  CHECK(node.shards == 4);
  CHECK(node.durability == durability_mode::os);
  CHECK(node.dedup_window == 3600s);
  CHECK(node.map_size_bytes == 2ull * 1024 * 1024 * 1024);
  CHECK(node.max_body_bytes == 512 * 1024);
  CHECK(node.http_threads == 3);
  CHECK(node.output_cap_bytes == 1000 * 1000);
  CHECK(node.max_running == 7);

  REQUIRE(cfg.sources.size() == 2);
  CHECK(cfg.sources[0].name == "github");
  CHECK(cfg.sources[0].kind == "webhook");
  CHECK(cfg.sources[0].line == 15);
  CHECK(cfg.sources[1].name == "nightly");
  CHECK(cfg.sources[1].kind == "cron");
  CHECK(cfg.sources[1].line == 16);

  REQUIRE(cfg.triggers.size() == 2);
  const auto& hello = cfg.triggers[0];
  CHECK(hello.name == "hello");
  CHECK(hello.line == 20);
  CHECK(hello.on == R"({"source":["api","github"],"type":["demo.hello"]})");
  CHECK(hello.pattern != nullptr);
  CHECK(hello.run.exec
        == std::vector<std::string>{"./scripts/hello.sh", "{{data.name}}"});
  CHECK(hello.run.actor.empty());
  CHECK(hello.run.cwd == "/etc/rouse/work");
  using env_list = std::vector<std::pair<std::string, std::string>>;
  CHECK(hello.run.env == env_list{{"FOO", "bar"}, {"EMPTY", ""}});
  CHECK(hello.run.timeout == 90s);
  CHECK(hello.run.kill_grace == 200ms);
  CHECK(hello.concurrency == 2);
  CHECK_FALSE(hello.enabled);

  const auto& poke = cfg.triggers[1];
  CHECK(poke.name == "poke");
  CHECK(poke.line == 30);
  CHECK(poke.on == R"({"type":["demo.poke"]})");
  CHECK(poke.run.exec.empty());
  CHECK(poke.run.actor == "poker");
  CHECK(poke.run.timeout == 0ms);
  CHECK(poke.concurrency == 1);
  CHECK(poke.enabled);
}

TEST_CASE("config: keeps a source's parameters without its kind as YAML",
          "[runtime][config]") {
  scoped_env token{"ROUSE_CONFIG_TEST_TOKEN", "s3cret"};
  auto r = load(full_config);
  REQUIRE(r.ok());
  const auto& github = r.cfg->sources[0].params_yaml;
  CHECK_THAT(github, Contains("path: /hooks/github"));
  CHECK_THAT(github, Contains("scheme: github"));
  CHECK_THAT(github, !Contains("kind"));
  CHECK_THAT(r.cfg->sources[1].params_yaml, Contains("schedule: 0 3 * * *"));
  SECTION("a source with only a kind has an empty map") {
    auto bare = load("sources:\n  manual: {kind: manual}\n");
    REQUIRE(bare.ok());
    CHECK(bare.cfg->sources[0].params_yaml == "{}");
  }
}

TEST_CASE("config: applies defaults for everything omitted",
          "[runtime][config]") {
  SECTION("an empty file is a default node with nothing configured") {
    auto r = load("");
    REQUIRE(r.ok());
    const auto& node = r.cfg->node;
    CHECK(node.name == "rouse");
    CHECK(node.data_dir == "/base/.rouse");
    CHECK(node.listen_host == "127.0.0.1");
    CHECK(node.listen_port == 7700);
    CHECK(node.api_token.empty());
    CHECK(node.shards == 2);
    CHECK(node.durability == durability_mode::fsync);
    CHECK(node.dedup_window == 24h);
    CHECK(node.map_size_bytes == 1024 * 1024 * 1024);
    CHECK(node.max_body_bytes == 1024 * 1024);
    CHECK(node.http_threads == 1);
    CHECK(node.output_cap_bytes == 64 * 1024);
    CHECK(node.max_running == 128);
    CHECK(r.cfg->sources.empty());
    CHECK(r.cfg->triggers.empty());
  }
  SECTION("empty sections are empty") {
    auto r = load("node:\nsources: {}\ntriggers:\n");
    REQUIRE(r.ok());
    CHECK(r.cfg->node.name == "rouse");
    CHECK(r.cfg->triggers.empty());
  }
  SECTION("a minimal trigger gets the run and flow-control defaults") {
    auto r = load("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n");
    REQUIRE(r.ok());
    const auto& t = r.cfg->triggers.at(0);
    CHECK(t.on == "{}");
    CHECK(t.run.cwd.empty());
    CHECK(t.run.env.empty());
    CHECK(t.run.timeout == 15min);
    CHECK(t.run.kill_grace == 5s);
    CHECK(t.concurrency == 0);
    CHECK(t.enabled);
  }
  SECTION("an empty base_dir keeps relative paths relative") {
    auto r = load_string("", "rouse.yaml", "");
    REQUIRE(r.ok());
    CHECK(r.cfg->node.data_dir == ".rouse");
  }
}

TEST_CASE("config: accepts a scalar for on lists and a map for concurrency",
          "[runtime][config]") {
  auto r = load("triggers:\n"
                "  t:\n"
                "    on: {source: api, type: demo.hello}\n"
                "    run: {exec: [a]}\n"
                "    concurrency: {limit: 3}\n");
  INFO(dump(r));
  REQUIRE(r.ok());
  const auto& t = r.cfg->triggers.at(0);
  CHECK(t.on == R"({"source":["api"],"type":["demo.hello"]})");
  CHECK(t.concurrency == 3);
}

TEST_CASE("config: on is an EventBridge pattern written in YAML",
          "[runtime][config]") {
  auto on = [](const std::string& yaml) {
    auto r = load("triggers:\n  t:\n    run: {exec: [a]}\n    on:\n" + yaml);
    INFO(dump(r));
    REQUIRE(r.ok());
    return r.cfg->triggers.at(0).on;
  };
  // Plain scalars are typed like JSON; quoted ones stay strings.
  CHECK(on("      data: {n: [1, 2.5, -3e2, \"4\", true, null, ~, x]}\n")
        == R"({"data":{"n":[1,2.5,-3e2,"4",true,null,null,"x"]}})");
  CHECK(on("      data:\n        size: [{numeric: [\">\", 0, \"<=\", 5]}]\n")
        == R"({"data":{"size":[{"numeric":[">",0,"<=",5]}]}})");
  CHECK(
      on("      type: [{prefix: github.}]\n      data: {x: [{exists: "
         "false}]}\n")
      == R"({"type":[{"prefix":"github."}],"data":{"x":[{"exists":false}]}})");
  CHECK(on("      $or:\n        - type: a\n        - data: {n: [{numeric: "
           "[\">\", 1]}]}\n")
        == R"({"$or":[{"type":["a"]},{"data":{"n":[{"numeric":[">",1]}]}}]})");
  // YAML-only number spellings are strings, as in JSON they would not parse.
  CHECK(on("      data: {v: [0x1F, +1, .5]}\n")
        == R"({"data":{"v":["0x1F","+1",".5"]}})");
}

TEST_CASE("config: resolves relative paths against the config directory",
          "[runtime][config]") {
  auto r = load("node: {data_dir: ../var/rouse}\n"
                "triggers:\n"
                "  rel: {on: {}, run: {exec: [a], cwd: ./work/../jobs}}\n"
                "  abs: {on: {}, run: {exec: [a], cwd: /srv/jobs}}\n",
                "/etc/rouse");
  INFO(dump(r));
  REQUIRE(r.ok());
  CHECK(r.cfg->node.data_dir == "/etc/var/rouse");
  CHECK(r.cfg->triggers.at(0).run.cwd == "/etc/rouse/jobs");
  CHECK(r.cfg->triggers.at(1).run.cwd == "/srv/jobs");
}

TEST_CASE("config: load_file reads the file and resolves paths next to it",
          "[runtime][config]") {
  temp_dir dir;
  dir.write("token", "from-file\n");
  auto path = dir.write("rouse.yaml", "node:\n"
                                      "  listen: 0.0.0.0:0\n"
                                      "  api_token: file:token\n");
  auto r = load_file(path);
  INFO(dump(r));
  REQUIRE(r.ok());
  auto dir_text = dir.path.lexically_normal().string();
  CHECK(r.cfg->file == path);
  CHECK(r.cfg->base_dir == dir_text);
  CHECK(r.cfg->node.data_dir == dir_text + "/.rouse");
  CHECK(r.cfg->node.listen_port == 0);
  CHECK(r.cfg->node.api_token == "from-file");
}

TEST_CASE("config: load_file reports an unreadable file at line 0",
          "[runtime][config]") {
  temp_dir dir;
  SECTION("missing file") {
    auto path = (dir.path / "missing.yaml").string();
    auto r = load_file(path);
    REQUIRE(r.errors.size() == 1);
    CHECK_FALSE(r.cfg.has_value());
    CHECK(r.errors[0].line == 0);
    CHECK(r.errors[0].file == path);
    CHECK_THAT(r.errors[0].message, Contains("No such file or directory"));
    CHECK_THAT(r.errors[0].to_string(), StartsWith(path + ": cannot read"));
  }
  SECTION("a directory") {
    auto r = load_file(dir.path.string());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 0);
    CHECK_THAT(r.errors[0].message, Contains("is a directory"));
  }
}

TEST_CASE("config: formats a diagnostic as file:line:column: message",
          "[runtime][config]") {
  diagnostic d{"rouse.yaml", 12, 5, "triggers.hello.run.timeout: bad"};
  CHECK(d.to_string() == "rouse.yaml:12:5: triggers.hello.run.timeout: bad");
  diagnostic whole{"rouse.yaml", 0, 0, "cannot read"};
  CHECK(whole.to_string() == "rouse.yaml: cannot read");
}

// --- error classes -----------------------------------------------------------

TEST_CASE("config: reports YAML syntax errors at the parser's position",
          "[runtime][config]") {
  auto r = load("node:\n  name: x\n   shards: 2\n");
  INFO(dump(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].line == 3);
  CHECK(r.errors[0].column == 10);
  CHECK_THAT(r.errors[0].message, StartsWith("YAML syntax error: "));
  CHECK_FALSE(r.cfg.has_value());

  auto flow = load("triggers:\n  t:\n    on: {type: [a, b}\n");
  REQUIRE(flow.errors.size() == 1);
  CHECK(flow.errors[0].line == 3);
  CHECK_THAT(flow.errors[0].message, StartsWith("YAML syntax error: "));
}

TEST_CASE("config: reports the structure errors of the file as a whole",
          "[runtime][config]") {
  check_one_error("- a\n- b\n", 1,
                  "expected a map with node, sources and triggers, got a list");
  check_one_error("node: {}\n---\nnode: {}\n", 3,
                  "more than one YAML document");
}

TEST_CASE("config: reports unknown keys with a suggestion",
          "[runtime][config]") {
  check_one_error("nodes:\n  name: x\n", 1,
                  "nodes: unknown key (did you mean \"node\"?)");
  check_one_error("node:\n  name: x\n  colour: red\n", 3,
                  "node.colour: unknown key (expected one of: name, data_dir");
  check_one_error(
      std::string{"triggers:\n"} + valid_trigger + "    concurency: 2\n", 5,
      "triggers.t.concurency: unknown key (did you mean "
      "\"concurrency\"?)");
  check_one_error("triggers:\n  t:\n    on: {type: x}\n    run: {exec: [a]}\n"
                  "    retries: 3\n",
                  5, "triggers.t.retries: unknown key");
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n"
                  "    concurrency: {limit: 1, keys: x}\n",
                  5,
                  "triggers.t.concurrency.keys: unknown key (did you mean "
                  "\"key\"?)");
}

TEST_CASE("config: reports duplicate keys with the first occurrence",
          "[runtime][config]") {
  check_one_error("node:\n  shards: 2\n  shards: 3\n", 3,
                  "node.shards: duplicate key (first at line 2)");
  check_one_error(std::string{"triggers:\n"} + valid_trigger + valid_trigger, 5,
                  "triggers.t: duplicate key (first at line 2)");
}

TEST_CASE("config: reports values of the wrong type naming the key",
          "[runtime][config]") {
  check_one_error("node:\n  data_dir: [a, b]\n", 2,
                  "node.data_dir: expected a string, got a list");
  check_one_error("node:\n  name:\n", 2,
                  "node.name: expected a string, got an empty value");
  check_one_error("node: [a]\n", 1,
                  "node: expected a map of node settings, got a list");
  check_one_error("sources:\n  gh: webhook\n", 2,
                  "sources.gh: expected a map with a kind, got the scalar");
  check_one_error("triggers:\n  t:\n    on: {type: [a, {b: c}]}\n"
                  "    run: {exec: [a]}\n",
                  3, "triggers.t.on.type: unknown operator \"b\"");
  check_one_error("triggers:\n  t:\n    on: x\n    run: {exec: [a]}\n", 3,
                  "triggers.t.on: expected an event pattern");
  // A pattern error is reported at the deepest key on its path.
  check_one_error("triggers:\n  t:\n    on:\n      type: [a]\n      data:\n"
                  "        size: [{numeric: [\">\"]}]\n"
                  "    run: {exec: [a]}\n",
                  6, "triggers.t.on.data.size: numeric needs an operator");
  check_one_error("triggers:\n  t:\n    on: {}\n"
                  "    run: {exec: [a, \"{{data.x\"]}\n",
                  4, "triggers.t.run.exec[1]: unclosed \"{{\"");
  check_one_error("triggers:\n  t:\n    on: {}\n"
                  "    run: {exec: [a], env: {X: \"{{ }}\"}}\n",
                  4, "triggers.t.run.env.X: empty {{}}");
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: ./a.sh}\n", 4,
                  "triggers.t.run.exec: expected a list (the argv; no shell");
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: []}\n", 4,
                  "triggers.t.run.exec: expected a non-empty list");
  check_one_error("triggers:\n  t:\n    on: {}\n"
                  "    run: {exec: [a], env: {A: [1]}}\n",
                  4, "triggers.t.run.env.A: expected a string, got a list");
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n"
                  "    enabled: maybe\n",
                  5,
                  "triggers.t.enabled: expected true or false, got the "
                  "scalar \"maybe\"");
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n"
                  "    concurrency: [1]\n",
                  5,
                  "triggers.t.concurrency: expected an integer or {limit: N}");
  check_one_error("node:\n  durability: sometimes\n", 2,
                  "node.durability: expected fsync or os, got \"sometimes\"");
}

TEST_CASE("config: hints at quoting an unquoted template",
          "[runtime][config]") {
  check_one_error("triggers:\n  t:\n    on: {}\n"
                  "    run:\n      exec: [a, {{data.name}}]\n",
                  5,
                  "triggers.t.run.exec[1]: expected a string, got a map "
                  "(quote templates: \"{{...}}\")");
}

TEST_CASE("config: reports out-of-range numbers and sizes",
          "[runtime][config]") {
  check_one_error("node:\n  shards: 0\n", 2,
                  "node.shards: expected an integer from 1 to 64, got \"0\"");
  check_one_error("node:\n  shards: 65\n", 2,
                  "node.shards: expected an integer from 1 to 64, got \"65\"");
  check_one_error("node:\n  http_threads: 17\n", 2,
                  "node.http_threads: expected an integer from 1 to 16");
  check_one_error("node:\n  max_running: 257\n", 2,
                  "node.max_running: expected an integer from 1 to 256");
  check_one_error("node:\n  shards: 99999999999999999999\n", 2,
                  "node.shards: expected an integer from 1 to 64");
  check_one_error("node:\n  shards: two\n", 2,
                  "node.shards: expected an integer from 1 to 64, got "
                  "\"two\"");
  check_one_error("node:\n  map_size: 512KiB\n", 2,
                  "node.map_size: must be at least 1MiB, got \"512KiB\"");
  check_one_error("node:\n  max_body: 0\n", 2,
                  "node.max_body: must be at least 1B");
  check_one_error("node:\n  map_size: 99999999999GiB\n", 2,
                  "node.map_size: size \"99999999999GiB\" is too large");
  check_one_error("node:\n  output_cap: 64k\n", 2,
                  "node.output_cap: invalid size \"64k\"");
  check_one_error("node:\n  dedup_window: 1500ms\n", 2,
                  "node.dedup_window: must be a whole number of seconds");
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n"
                  "    concurrency: -1\n",
                  5, "triggers.t.concurrency: expected an integer from 0 to");
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n"
                  "    concurrency: {limit: 4294967296}\n",
                  5,
                  "triggers.t.concurrency.limit: expected an integer from 0 "
                  "to 4294967295");
}

TEST_CASE("config: reports an invalid duration at its line",
          "[runtime][config]") {
  auto r = load("triggers:\n"
                "  hello:\n"
                "    on: {}\n"
                "    run:\n"
                "      exec: [a]\n"
                "      timeout: 5x\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].to_string()
        == "rouse.yaml:6:16: triggers.hello.run.timeout: invalid duration "
           "\"5x\" (use e.g. 200ms, 5s, 15m, 1h, 1d)");
}

TEST_CASE("config: reports a bad listen address", "[runtime][config]") {
  check_one_error("node:\n  listen: localhost\n", 2,
                  "node.listen: invalid listen address \"localhost\": "
                  "missing ':port'");
  check_one_error("node:\n  listen: example.com:80\n", 2,
                  "node.listen: invalid listen address \"example.com:80\": "
                  "host must be");
  check_one_error("node:\n  listen: 127.0.0.1:70000\n", 2,
                  "node.listen: invalid listen address \"127.0.0.1:70000\": "
                  "port must be");
  check_one_error("node:\n  listen: \"::1:7700\"\n", 2,
                  "node.listen: invalid listen address \"::1:7700\": put IPv6 "
                  "addresses in brackets");
}

TEST_CASE("config: requires exactly one of exec and actor",
          "[runtime][config]") {
  check_one_error("triggers:\n  t:\n    on: {}\n"
                  "    run: {exec: [a], actor: b}\n",
                  4,
                  "triggers.t.run: set exactly one of exec and actor, not "
                  "both");
  check_one_error("triggers:\n  t:\n    on: {}\n    run:\n      timeout: 5s\n",
                  4, "triggers.t.run: missing exec (an argv list) or actor");
  check_one_error("triggers:\n  t:\n    on: {}\n"
                  "    run: {actor: b, cwd: /tmp}\n",
                  4, "triggers.t.run.cwd: applies only to exec");
}

TEST_CASE("config: reports missing required keys at the owner's line",
          "[runtime][config]") {
  check_one_error("triggers:\n  t:\n    run: {exec: [a]}\n", 2,
                  "triggers.t: missing required key \"on\"");
  check_one_error("triggers:\n  t:\n    on: {}\n", 2,
                  "triggers.t: missing required key \"run\"");
  check_one_error("sources:\n  gh:\n    path: /x\n", 2,
                  "sources.gh: missing required key \"kind\"");
  check_one_error("triggers:\n  t:\n    on: {}\n    run: {exec: [a]}\n"
                  "    concurrency: {}\n",
                  5, "triggers.t.concurrency: missing required key \"limit\"");
}

TEST_CASE("config: rejects invalid source and trigger names",
          "[runtime][config]") {
  check_one_error("triggers:\n  \"bad name\":\n    on: {}\n"
                  "    run: {exec: [a]}\n",
                  2, "triggers.bad name: invalid name \"bad name\"");
  check_one_error("sources:\n  " + std::string(65, 'a') + ": {kind: x}\n", 2,
                  "sources." + std::string(65, 'a') + ": invalid name");
  check_one_error("node:\n  name: my/laptop\n", 2,
                  "node.name: invalid name \"my/laptop\"");
}

TEST_CASE("config: reports every error of a file in one pass, in file order",
          "[runtime][config]") {
  auto r = load("node:\n"                   // 1
                "  shards: 100\n"           // 2
                "  listen: nowhere\n"       // 3
                "sources:\n"                // 4
                "  gh: {path: /x}\n"        // 5
                "triggers:\n"               // 6
                "  a:\n"                    // 7
                "    on: {type: [x]}\n"     // 8
                "    run: {exec: [a]}\n"    // 9
                "    rate: 5\n"             // 10
                "  b:\n"                    // 11
                "    on: {}\n"              // 12
                "    run:\n"                // 13
                "      exec: [a]\n"         // 14
                "      timeout: soon\n"     // 15
                "      kill_grace: -1s\n"); // 16
  INFO(dump(r));
  REQUIRE(r.errors.size() == 6);
  CHECK_FALSE(r.cfg.has_value());
  std::vector<int> lines;
  for (const auto& d : r.errors)
    lines.push_back(d.line);
  CHECK(lines == std::vector<int>{2, 3, 5, 10, 15, 16});
  CHECK_THAT(r.errors[0].message, StartsWith("node.shards:"));
  CHECK_THAT(r.errors[1].message, StartsWith("node.listen:"));
  CHECK_THAT(r.errors[2].message, StartsWith("sources.gh:"));
  CHECK_THAT(r.errors[3].message, StartsWith("triggers.a.rate:"));
  CHECK_THAT(r.errors[4].message, StartsWith("triggers.b.run.timeout:"));
  CHECK_THAT(r.errors[5].message, StartsWith("triggers.b.run.kill_grace:"));
}
