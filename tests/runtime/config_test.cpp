// Tests of runtime/config: the YAML loader (values, defaults, paths, every
// error class with its line) and the scalar parsers (durations, sizes,
// listen addresses, names, secrets).
#include "runtime/config/config.hpp"

#include "messages/errc.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace rouse::config;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

load_result load(const std::string& yaml, const std::string& base = "/base") {
  return load_string(yaml, "rouse.yaml", base);
}

/// Returns all diagnostics, one per line, for failure messages.
std::string dump(const load_result& r) {
  std::string out;
  for (const auto& d : r.errors)
    out += d.to_string() + "\n";
  return out;
}

/// A trigger that is valid on its own, for embedding in error cases.
constexpr const char* valid_trigger = "  t:\n"
                                      "    on: {type: x}\n"
                                      "    run: {exec: [a]}\n";

/// Checks that `yaml` yields exactly one error, at `line`, whose message
/// starts with `message`.
void check_one_error(const std::string& yaml, int line,
                     const std::string& message) {
  auto r = load(yaml);
  INFO("yaml:\n" << yaml << "diagnostics:\n" << dump(r));
  REQUIRE(r.errors.size() == 1);
  CHECK_FALSE(r.cfg.has_value());
  CHECK_FALSE(r.ok());
  CHECK(r.errors[0].file == "rouse.yaml");
  CHECK(r.errors[0].line == line);
  CHECK(r.errors[0].column >= 1);
  CHECK_THAT(r.errors[0].message, StartsWith(message));
}

/// A directory under the system temp dir, removed with its contents.
struct temp_dir {
  std::filesystem::path path;

  temp_dir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path()
           / ("rouse-config-test-" + std::to_string(::getpid()) + "-"
              + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }

  std::string write(const std::string& name, const std::string& text) const {
    auto file = path / name;
    std::ofstream{file, std::ios::binary} << text;
    return file.string();
  }
};

/// Sets an environment variable for the scope.
struct scoped_env {
  std::string name;

  scoped_env(std::string n, const char* value) : name(std::move(n)) {
    ::setenv(name.c_str(), value, 1);
  }

  ~scoped_env() { ::unsetenv(name.c_str()); }
};

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

// --- error classes
// -------------------------------------------------------------

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

// --- secrets and the listen policy
// ----------------------------------------------

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

// --- scalar parsers
// --------------------------------------------------------------

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
  auto error_of = [](const std::string& members) {
    auto t = parse_trigger_json(
        R"({"name": "t", "on": {}, "run": {"exec": ["a"]}, )" + members + "}",
        "/base");
    REQUIRE_FALSE(t);
    CHECK(rouse::is(t.error(), rouse::errc::invalid_input));
    return rouse::describe(t.error());
  };
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
  auto error_of = [](const std::string& members) {
    auto t = parse_trigger_json(
        R"({"name": "t", "on": {}, "run": {"exec": ["a"]}, )" + members + "}",
        "/base");
    REQUIRE_FALSE(t);
    CHECK(rouse::is(t.error(), rouse::errc::invalid_input));
    return rouse::describe(t.error());
  };
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
