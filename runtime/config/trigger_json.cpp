// Triggers as JSON: the body of POST/PUT /api/triggers and the form in which
// API-managed triggers are stored. Validation mirrors the YAML loader; every
// error names the JSON path of the problem.
#include "runtime/config/config.hpp"

#include "messages/errc.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/template/template.hpp"

#include <simdjson.h>

#include <limits>

namespace rouse::config {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

/// Trigger definitions larger than this are rejected before parsing.
constexpr size_t max_trigger_bytes = 256 * 1024;

caf::error fail(std::string_view path, const std::string& what) {
  return make_error(errc::invalid_input, std::string{path} + ": " + what);
}

std::string type_name(element e) {
  switch (e.type()) {
  case element_type::ARRAY: return "an array";
  case element_type::OBJECT: return "an object";
  case element_type::STRING: return "a string";
  case element_type::INT64:
  case element_type::UINT64:
  case element_type::DOUBLE: return "a number";
  case element_type::BOOL: return "a boolean";
  case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

caf::error expect_keys(object obj, std::string_view path,
                       std::initializer_list<std::string_view> allowed) {
  for (auto [key, value] : obj) {
    (void)value;
    bool known = false;
    for (auto a : allowed)
      known |= key == a;
    if (!known) {
      std::string list;
      for (auto a : allowed)
        list += (list.empty() ? "" : ", ") + std::string{a};
      auto where = path.empty() ? std::string{key}
                                : std::string{path} + "." + std::string{key};
      return fail(where, "unknown key (expected one of: " + list + ")");
    }
  }
  return {};
}

caf::expected<std::string> get_string(element e, const std::string& path) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS)
    return fail(path, "expected a string, got " + type_name(e));
  return std::string{s};
}

caf::expected<std::chrono::milliseconds> get_duration(element e,
                                                      const std::string& path) {
  uint64_t seconds = 0;
  if (e.get_uint64().get(seconds) == simdjson::SUCCESS)
    return parse_duration(std::to_string(seconds) + "s");
  auto s = get_string(e, path);
  if (!s)
    return fail(path,
                "expected a duration such as \"15m\", got " + type_name(e));
  auto d = parse_duration(*s);
  if (!d)
    return fail(path, describe(d.error()));
  return *d;
}

caf::error parse_run(element e, const std::string& base_dir, run_config& run) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS)
    return fail("run",
                "expected an object with exec or actor, got " + type_name(e));
  if (auto err = expect_keys(
          obj, "run", {"exec", "actor", "cwd", "env", "timeout", "kill_grace"}))
    return err;
  element exec, actor;
  bool has_exec = obj["exec"].get(exec) == simdjson::SUCCESS;
  bool has_actor = obj["actor"].get(actor) == simdjson::SUCCESS;
  if (has_exec == has_actor)
    return fail("run", "set exactly one of exec (an argv array) and actor (a "
                       "registered actor name)");
  if (has_exec) {
    simdjson::dom::array argv;
    if (exec.get_array().get(argv) != simdjson::SUCCESS || argv.size() == 0)
      return fail("run.exec", "expected a non-empty array of strings (the "
                              "argv; no shell is used), got "
                                  + type_name(exec));
    size_t i = 0;
    for (auto arg : argv) {
      auto s = get_string(arg, "run.exec[" + std::to_string(i) + "]");
      if (!s)
        return std::move(s.error());
      if (i == 0 && s->empty())
        return fail("run.exec[0]", "the program must not be empty");
      if (auto t = tmpl::text_template::parse(*s); !t)
        return fail("run.exec[" + std::to_string(i) + "]", describe(t.error()));
      run.exec.push_back(std::move(*s));
      ++i;
    }
    if (run.exec[0].find('/') != std::string::npos)
      run.exec[0] = resolve_path(base_dir, run.exec[0]);
  } else {
    auto s = get_string(actor, "run.actor");
    if (!s)
      return std::move(s.error());
    if (s->empty())
      return fail("run.actor", "expected a non-empty string");
    run.actor = std::move(*s);
  }
  element v;
  if (obj["cwd"].get(v) == simdjson::SUCCESS) {
    if (has_actor)
      return fail("run.cwd", "applies only to exec, not to actor");
    auto s = get_string(v, "run.cwd");
    if (!s)
      return std::move(s.error());
    if (s->empty())
      return fail("run.cwd", "expected a non-empty string");
    run.cwd = resolve_path(base_dir, *s);
  }
  if (obj["env"].get(v) == simdjson::SUCCESS) {
    if (has_actor)
      return fail("run.env", "applies only to exec, not to actor");
    object env;
    if (v.get_object().get(env) != simdjson::SUCCESS)
      return fail("run.env", "expected an object of variable name to string, "
                             "got "
                                 + type_name(v));
    for (auto [key, value] : env) {
      auto path = "run.env." + std::string{key};
      if (key.empty() || key.find('=') != std::string_view::npos)
        return fail(path, "invalid environment variable name "
                              + quote(std::string{key}));
      auto s = get_string(value, path);
      if (!s)
        return std::move(s.error());
      if (auto t = tmpl::text_template::parse(*s); !t)
        return fail(path, describe(t.error()));
      run.env.emplace_back(std::string{key}, std::move(*s));
    }
  }
  if (obj["timeout"].get(v) == simdjson::SUCCESS) {
    auto d = get_duration(v, "run.timeout");
    if (!d)
      return std::move(d.error());
    run.timeout = *d;
  }
  if (obj["kill_grace"].get(v) == simdjson::SUCCESS) {
    auto d = get_duration(v, "run.kill_grace");
    if (!d)
      return std::move(d.error());
    run.kill_grace = *d;
  }
  return {};
}

} // namespace

caf::expected<trigger_config>
parse_trigger_json(std::string_view json, const std::string& base_dir,
                   std::string_view default_name) {
  if (json.size() > max_trigger_bytes)
    return make_error(errc::invalid_input,
                      "trigger definition is larger than 256 KiB");
  thread_local simdjson::dom::parser parser;
  element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root))
    return make_error(errc::invalid_input, std::string{"invalid JSON: "}
                                               + simdjson::error_message(err));
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS)
    return make_error(errc::invalid_input,
                      "expected a JSON object with name, on and run, got "
                          + type_name(root));
  if (auto err =
          expect_keys(obj, "",
                      {"name", "on", "run", "concurrency", "retry", "enabled",
                       "ignore_self", "origin", "file", "line"}))
    return err;
  trigger_config trg;
  element v;
  caf::expected<std::string> name{std::string{default_name}};
  if (obj["name"].get(v) == simdjson::SUCCESS)
    name = get_string(v, "name");
  else if (default_name.empty())
    return fail("name", "missing (a name of 1 to 64 letters, digits, '_', "
                        "'.' or '-')");
  if (!name)
    return std::move(name.error());
  if (!is_valid_name(*name))
    return fail("name", "invalid name " + quote(*name)
                            + " (use 1 to 64 letters, digits, '_', '.' or "
                              "'-')");
  trg.name = std::move(*name);
  if (obj["on"].get(v) != simdjson::SUCCESS)
    return fail("on", "missing (the event pattern, e.g. {\"type\": "
                      "[\"demo.hello\"]})");
  if (!v.is_object())
    return fail("on", "expected an event pattern object, got " + type_name(v));
  trg.on = simdjson::minify(v);
  auto compiled = pattern::compile(trg.on, "on");
  if (!compiled)
    return std::move(compiled.error());
  trg.pattern = std::make_shared<const pattern::pattern>(std::move(*compiled));
  if (obj["run"].get(v) != simdjson::SUCCESS)
    return fail("run", "missing (what to run, e.g. {\"exec\": [\"cmd\"]})");
  if (auto err = parse_run(v, base_dir, trg.run))
    return err;
  if (obj["concurrency"].get(v) == simdjson::SUCCESS) {
    element limit = v;
    object c;
    std::string path = "concurrency";
    if (v.get_object().get(c) == simdjson::SUCCESS) {
      if (auto err = expect_keys(c, "concurrency", {"limit"}))
        return err;
      path = "concurrency.limit";
      if (c["limit"].get(limit) != simdjson::SUCCESS)
        return fail(path, "missing (the number of runs allowed at once)");
    }
    uint64_t n = 0;
    if (limit.get_uint64().get(n) != simdjson::SUCCESS
        || n > std::numeric_limits<uint32_t>::max())
      return fail(path, "expected an integer from 0 to 4294967295, got "
                            + type_name(limit));
    trg.concurrency = static_cast<uint32_t>(n);
  }
  if (obj["retry"].get(v) == simdjson::SUCCESS) {
    object r;
    if (v.get_object().get(r) != simdjson::SUCCESS)
      return fail("retry", "expected an object with attempts, backoff, "
                           "max_backoff, jitter");
    if (auto err = expect_keys(
            r, "retry", {"attempts", "backoff", "max_backoff", "jitter"}))
      return err;
    element x;
    if (r["attempts"].get(x) == simdjson::SUCCESS) {
      uint64_t n = 0;
      if (x.get_uint64().get(n) != simdjson::SUCCESS || n < 1 || n > 100)
        return fail("retry.attempts", "expected an integer from 1 to 100");
      trg.retry.attempts = static_cast<uint32_t>(n);
    }
    if (r["backoff"].get(x) == simdjson::SUCCESS) {
      auto d = get_duration(x, "retry.backoff");
      if (!d)
        return std::move(d.error());
      trg.retry.backoff = *d;
    }
    if (r["max_backoff"].get(x) == simdjson::SUCCESS) {
      auto d = get_duration(x, "retry.max_backoff");
      if (!d)
        return std::move(d.error());
      trg.retry.max_backoff = *d;
    }
    if (r["jitter"].get(x) == simdjson::SUCCESS) {
      double j = 0;
      if (x.get_double().get(j) != simdjson::SUCCESS || !(j >= 0 && j <= 1))
        return fail("retry.jitter", "expected a number from 0 to 1");
      trg.retry.jitter = j;
    }
  }
  if (obj["enabled"].get(v) == simdjson::SUCCESS) {
    bool b = true;
    if (v.get_bool().get(b) != simdjson::SUCCESS)
      return fail("enabled", "expected true or false, got " + type_name(v));
    trg.enabled = b;
  }
  if (obj["ignore_self"].get(v) == simdjson::SUCCESS) {
    bool b = false;
    if (v.get_bool().get(b) != simdjson::SUCCESS)
      return fail("ignore_self", "expected true or false, got " + type_name(v));
    trg.ignore_self = b;
  }
  return trg;
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms == 0)
    return "0s";
  struct unit {
    int64_t ms;
    const char* suffix;
  };
  for (auto u : {unit{86400000, "d"}, unit{3600000, "h"}, unit{60000, "m"},
                 unit{1000, "s"}})
    if (ms % u.ms == 0)
      return std::to_string(ms / u.ms) + u.suffix;
  return std::to_string(ms) + "ms";
}

std::string to_json(const trigger_config& trg) {
  json::object_writer run;
  if (!trg.run.actor.empty()) {
    run.field("actor", trg.run.actor);
  } else {
    json::array_writer argv;
    for (const auto& a : trg.run.exec)
      argv.raw(json::quote(a));
    run.raw("exec", argv.finish());
    if (!trg.run.cwd.empty())
      run.field("cwd", trg.run.cwd);
    if (!trg.run.env.empty()) {
      json::object_writer env;
      for (const auto& [k, v] : trg.run.env)
        env.field(k, v);
      run.raw("env", env.finish());
    }
  }
  run.field("timeout", format_duration(trg.run.timeout));
  run.field("kill_grace", format_duration(trg.run.kill_grace));
  json::object_writer w;
  w.field("name", trg.name);
  w.raw("on", trg.on);
  w.raw("run", run.finish());
  w.field("concurrency", uint64_t{trg.concurrency});
  json::object_writer retry;
  retry.field("attempts", uint64_t{trg.retry.attempts})
      .field("backoff", format_duration(trg.retry.backoff))
      .field("max_backoff", format_duration(trg.retry.max_backoff))
      .field("jitter", trg.retry.jitter);
  w.raw("retry", retry.finish());
  w.field("enabled", trg.enabled);
  if (trg.ignore_self)
    w.field("ignore_self", true);
  return w.finish();
}

} // namespace rouse::config
