// Triggers as JSON: the body of POST/PUT /api/triggers and the form in which
// API-managed triggers are stored. Validation mirrors the YAML loader; every
// error names the JSON path of the problem. This file reads the trigger and
// its run; the flow policies are in trigger_json_flow.cpp and the writer in
// trigger_json_write.cpp.
#include "runtime/config/trigger_json_read.hpp"

#include "messages/errc.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/template/template.hpp"

namespace rouse::config {

namespace json_detail {

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

/// Returns how `e` is named in a message: a number as written, a string
/// quoted, anything else by its type.
std::string describe_value(element e) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS)
    return quote(s);
  if (e.is_number())
    return simdjson::minify(e);
  return type_name(e);
}

caf::expected<object> get_object(element e, const std::string& path,
                                 std::string_view what) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS)
    return fail(path, "expected an object with " + std::string{what} + ", got "
                          + type_name(e));
  return obj;
}

caf::expected<uint64_t> get_uint(element e, const std::string& path,
                                 uint64_t min, uint64_t max) {
  uint64_t n = 0;
  if (e.get_uint64().get(n) != simdjson::SUCCESS || n < min || n > max)
    return fail(path, "expected an integer from " + std::to_string(min) + " to "
                          + std::to_string(max) + ", got " + describe_value(e));
  return n;
}

caf::expected<std::chrono::milliseconds>
get_positive_duration(element e, const std::string& path) {
  auto d = get_duration(e, path);
  if (d && d->count() == 0)
    return fail(path, "must be greater than 0, got " + describe_value(e));
  return d;
}

/// Returns a flow policy's key: a non-empty string that parses as a template.
caf::expected<std::string> get_key(element e, const std::string& path) {
  auto s = get_string(e, path);
  if (!s)
    return s;
  if (s->empty())
    return fail(path, "expected a non-empty string");
  if (auto t = tmpl::text_template::parse(*s); !t)
    return fail(path, describe(t.error()));
  return s;
}

/// Returns the index of the string `e` in `names`.
caf::expected<size_t> get_choice(element e, const std::string& path,
                                 std::span<const std::string_view> names) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS)
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == s)
        return i;
  return fail(path, "expected " + one_of(names) + ", got " + describe_value(e));
}

caf::error missing_member(std::string_view parent, std::string_view key,
                          std::string_view hint) {
  return fail(std::string{parent} + "." + std::string{key},
              "missing (" + std::string{hint} + ")");
}

} // namespace json_detail

namespace {

using namespace json_detail;

/// Trigger definitions larger than this are rejected before parsing.
constexpr size_t max_trigger_bytes = 256 * 1024;

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
  if (auto err = expect_keys(obj, "",
                             {"name", "on", "run", "concurrency", "rate",
                              "debounce", "batch", "priority", "singleton",
                              "queue", "circuit", "budget", "retry", "enabled",
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
  if (obj["concurrency"].get(v) == simdjson::SUCCESS)
    if (auto err = parse_concurrency(v, trg))
      return err;
  if (auto err = parse_flow(obj, trg.flow))
    return err;
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

} // namespace rouse::config
