// Triggers as JSON: the body of POST/PUT /api/triggers and the form in which
// API-managed triggers are stored. Validation mirrors the YAML loader; every
// error names the JSON path of the problem.
#include "runtime/config/config.hpp"

#include "messages/errc.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/template/template.hpp"

#include <simdjson.h>

#include <charconv>
#include <cmath>
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

/// Sets `out` from the optional member `key` of `obj` with `get`; a member
/// that fails leaves its error.
template <class T, class Get>
caf::error read_member(object obj, std::string_view parent,
                       std::string_view key, T& out, Get get) {
  element x;
  if (obj[key].get(x) != simdjson::SUCCESS)
    return {};
  auto value = get(x, std::string{parent} + "." + std::string{key});
  if (!value)
    return std::move(value.error());
  out = static_cast<T>(std::move(*value));
  return {};
}

caf::error missing_member(std::string_view parent, std::string_view key,
                          std::string_view hint) {
  return fail(std::string{parent} + "." + std::string{key},
              "missing (" + std::string{hint} + ")");
}

caf::error parse_concurrency(element v, trigger_config& trg) {
  element limit = v;
  object c;
  std::string path = "concurrency";
  bool is_object = v.get_object().get(c) == simdjson::SUCCESS;
  if (is_object) {
    if (auto err = expect_keys(c, "concurrency", {"limit", "key"}))
      return err;
    path = "concurrency.limit";
    if (c["limit"].get(limit) != simdjson::SUCCESS)
      return fail(path, "missing (the number of runs allowed at once)");
  }
  auto n = get_uint(limit, path, 0, std::numeric_limits<uint32_t>::max());
  if (!n)
    return std::move(n.error());
  trg.concurrency = static_cast<uint32_t>(*n);
  if (!is_object || c["key"].error() != simdjson::SUCCESS)
    return {};
  if (*n == 0)
    return fail(path, "a key needs a limit of at least 1");
  return read_member(c, "concurrency", "key", trg.flow.concurrency_key,
                     get_key);
}

caf::error parse_rate(element e, flow_policy::rate_policy& rate) {
  auto obj = get_object(e, "rate", "limit, per, key, mode");
  if (!obj)
    return std::move(obj.error());
  if (auto err = expect_keys(*obj, "rate", {"limit", "per", "key", "mode"}))
    return err;
  if ((*obj)["limit"].error() != simdjson::SUCCESS)
    return missing_member("rate", "limit", "the runs started per `per`");
  auto limit = [](element x, const std::string& path) {
    return get_uint(x, path, 1, 1'000'000);
  };
  auto mode = [](element x, const std::string& path) {
    return get_choice(x, path, flow_policy::rate_policy::mode_names);
  };
  if (auto err = read_member(*obj, "rate", "limit", rate.limit, limit))
    return err;
  if (auto err =
          read_member(*obj, "rate", "per", rate.per, get_positive_duration))
    return err;
  if (auto err = read_member(*obj, "rate", "key", rate.key, get_key))
    return err;
  return read_member(*obj, "rate", "mode", rate.mode, mode);
}

caf::error parse_debounce(element e, flow_policy::debounce_policy& debounce) {
  auto obj = get_object(e, "debounce", "period, max_wait, key");
  if (!obj)
    return std::move(obj.error());
  if (auto err = expect_keys(*obj, "debounce", {"period", "max_wait", "key"}))
    return err;
  if ((*obj)["period"].error() != simdjson::SUCCESS)
    return missing_member("debounce", "period",
                          "the quiet time that ends a burst, e.g. \"5s\"");
  if (auto err = read_member(*obj, "debounce", "period", debounce.period,
                             get_positive_duration))
    return err;
  if (auto err = read_member(*obj, "debounce", "max_wait", debounce.max_wait,
                             get_duration))
    return err;
  if (debounce.max_wait.count() != 0 && debounce.max_wait < debounce.period)
    return fail("debounce.max_wait",
                "must be 0 (no cap) or at least the period ("
                    + format_duration(debounce.period) + "), got "
                    + quote(format_duration(debounce.max_wait)));
  return read_member(*obj, "debounce", "key", debounce.key, get_key);
}

caf::error parse_batch(element e, flow_policy::batch_policy& batch) {
  auto obj = get_object(e, "batch", "max_size, max_wait, key");
  if (!obj)
    return std::move(obj.error());
  if (auto err = expect_keys(*obj, "batch", {"max_size", "max_wait", "key"}))
    return err;
  if ((*obj)["max_size"].error() != simdjson::SUCCESS)
    return missing_member("batch", "max_size",
                          "the most events one run receives");
  if ((*obj)["max_wait"].error() != simdjson::SUCCESS)
    return missing_member("batch", "max_wait",
                          "how long a batch may wait to fill, e.g. \"10s\"");
  auto max_size = [](element x, const std::string& path) {
    return get_uint(x, path, 1, 10'000);
  };
  if (auto err =
          read_member(*obj, "batch", "max_size", batch.max_size, max_size))
    return err;
  if (auto err = read_member(*obj, "batch", "max_wait", batch.max_wait,
                             get_positive_duration))
    return err;
  return read_member(*obj, "batch", "key", batch.key, get_key);
}

/// Returns a priority value: an integer (normalized) or a template with at
/// least one reference.
caf::expected<std::string> get_priority_value(element e,
                                              const std::string& path) {
  const std::string expected = "expected an integer or a \"{{path}}\" "
                               "template, got ";
  int64_t n = 0;
  if (e.get_int64().get(n) == simdjson::SUCCESS)
    return std::to_string(n);
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS)
    return fail(path, expected + describe_value(e));
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (!s.empty() && ec == std::errc{} && ptr == s.data() + s.size())
    return std::to_string(n);
  auto t = tmpl::text_template::parse(s);
  if (!t)
    return fail(path, describe(t.error()));
  if (!t->has_references())
    return fail(path, expected + quote(s));
  return std::string{s};
}

caf::error parse_priority(element e, flow_policy::priority_policy& priority) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    if (e.is_number() || e.is_string()) {
      auto value = get_priority_value(e, "priority");
      if (!value)
        return std::move(value.error());
      priority.value = std::move(*value);
      return {};
    }
    return fail("priority", "expected an integer, a \"{{path}}\" template or "
                            "an object with value, aging, got "
                                + type_name(e));
  }
  if (auto err = expect_keys(obj, "priority", {"value", "aging"}))
    return err;
  if (obj["value"].error() != simdjson::SUCCESS)
    return missing_member("priority", "value",
                          "an integer or a \"{{path}}\" template");
  if (auto err = read_member(obj, "priority", "value", priority.value,
                             get_priority_value))
    return err;
  return read_member(obj, "priority", "aging", priority.aging,
                     get_positive_duration);
}

caf::error parse_singleton(element e,
                           flow_policy::singleton_policy& singleton) {
  bool b = false;
  if (e.get_bool().get(b) == simdjson::SUCCESS) {
    singleton.enabled = b;
    return {};
  }
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS)
    return fail("singleton", "expected true, false or an object with key, "
                             "mode, got "
                                 + type_name(e));
  if (auto err = expect_keys(obj, "singleton", {"key", "mode"}))
    return err;
  singleton.enabled = true;
  auto mode = [](element x, const std::string& path) {
    return get_choice(x, path, flow_policy::singleton_policy::mode_names);
  };
  if (auto err = read_member(obj, "singleton", "key", singleton.key, get_key))
    return err;
  return read_member(obj, "singleton", "mode", singleton.mode, mode);
}

caf::error parse_queue(element e, flow_policy::queue_policy& queue) {
  auto obj = get_object(e, "queue", "max, on_full");
  if (!obj)
    return std::move(obj.error());
  if (auto err = expect_keys(*obj, "queue", {"max", "on_full"}))
    return err;
  if ((*obj)["max"].error() != simdjson::SUCCESS)
    return missing_member("queue", "max", "the most runs waiting");
  auto max = [](element x, const std::string& path) {
    return get_uint(x, path, 1, 10'000'000);
  };
  auto on_full = [](element x, const std::string& path) {
    return get_choice(x, path, flow_policy::queue_policy::on_full_names);
  };
  if (auto err = read_member(*obj, "queue", "max", queue.max, max))
    return err;
  return read_member(*obj, "queue", "on_full", queue.on_full, on_full);
}

caf::error parse_circuit(element e, flow_policy::circuit_policy& circuit) {
  auto obj = get_object(e, "circuit", "failures, cool_off, mode");
  if (!obj)
    return std::move(obj.error());
  if (auto err = expect_keys(*obj, "circuit", {"failures", "cool_off", "mode"}))
    return err;
  if ((*obj)["failures"].error() != simdjson::SUCCESS)
    return missing_member("circuit", "failures",
                          "consecutive failed runs that open it");
  auto failures = [](element x, const std::string& path) {
    return get_uint(x, path, 1, 1000);
  };
  auto mode = [](element x, const std::string& path) {
    return get_choice(x, path, flow_policy::circuit_policy::mode_names);
  };
  if (auto err =
          read_member(*obj, "circuit", "failures", circuit.failures, failures))
    return err;
  if (auto err = read_member(*obj, "circuit", "cool_off", circuit.cool_off,
                             get_positive_duration))
    return err;
  return read_member(*obj, "circuit", "mode", circuit.mode, mode);
}

caf::error parse_budget(element e, flow_policy::budget_policy& budget) {
  auto obj = get_object(e, "budget", "runs, cost, per, key");
  if (!obj)
    return std::move(obj.error());
  if (auto err = expect_keys(*obj, "budget", {"runs", "cost", "per", "key"}))
    return err;
  if ((*obj)["runs"].error() != simdjson::SUCCESS
      && (*obj)["cost"].error() != simdjson::SUCCESS)
    return missing_member("budget", "runs",
                          "runs and/or cost: what the trigger may spend per "
                          "window");
  if ((*obj)["per"].error() != simdjson::SUCCESS)
    return missing_member("budget", "per",
                          "the window the budget is for, e.g. \"1d\"");
  auto runs = [](element x, const std::string& path) {
    return get_uint(x, path, 1, 1'000'000'000);
  };
  auto cost = [](element x, const std::string& path) -> caf::expected<double> {
    double d = 0;
    if (x.get_double().get(d) != simdjson::SUCCESS || !std::isfinite(d)
        || !(d > 0) || d > 1e15)
      return fail(path,
                  "expected a number greater than 0, got " + describe_value(x));
    return d;
  };
  if (auto err = read_member(*obj, "budget", "runs", budget.runs, runs))
    return err;
  if (auto err = read_member(*obj, "budget", "cost", budget.cost, cost))
    return err;
  if (auto err =
          read_member(*obj, "budget", "per", budget.per, get_positive_duration))
    return err;
  return read_member(*obj, "budget", "key", budget.key, get_key);
}

/// Reads the flow policies among the members of the trigger object `obj`.
caf::error parse_flow(object obj, flow_policy& flow) {
  element v;
  if (obj["rate"].get(v) == simdjson::SUCCESS)
    if (auto err = parse_rate(v, flow.rate))
      return err;
  bool has_debounce = obj["debounce"].get(v) == simdjson::SUCCESS;
  if (has_debounce)
    if (auto err = parse_debounce(v, flow.debounce))
      return err;
  if (obj["batch"].get(v) == simdjson::SUCCESS) {
    if (has_debounce)
      return fail("batch", "debounce and batch cannot be combined");
    if (auto err = parse_batch(v, flow.batch))
      return err;
  }
  if (obj["priority"].get(v) == simdjson::SUCCESS)
    if (auto err = parse_priority(v, flow.priority))
      return err;
  if (obj["singleton"].get(v) == simdjson::SUCCESS)
    if (auto err = parse_singleton(v, flow.singleton))
      return err;
  if (obj["queue"].get(v) == simdjson::SUCCESS)
    if (auto err = parse_queue(v, flow.queue))
      return err;
  if (obj["circuit"].get(v) == simdjson::SUCCESS)
    if (auto err = parse_circuit(v, flow.circuit))
      return err;
  if (obj["budget"].get(v) == simdjson::SUCCESS)
    if (auto err = parse_budget(v, flow.budget))
      return err;
  return {};
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

namespace {

/// Writes each flow policy of `flow` that is on as a member of `w`.
void write_flow(json::object_writer& w, const flow_policy& flow) {
  auto with_key = [](json::object_writer& p, const std::string& key) {
    if (!key.empty())
      p.field("key", key);
  };
  if (const auto& r = flow.rate; r.limit > 0) {
    json::object_writer p;
    p.field("limit", uint64_t{r.limit}).field("per", format_duration(r.per));
    with_key(p, r.key);
    p.field("mode", r.mode_names[r.mode]);
    w.raw("rate", p.finish());
  }
  if (const auto& d = flow.debounce; d.period.count() > 0) {
    json::object_writer p;
    p.field("period", format_duration(d.period));
    if (d.max_wait.count() > 0)
      p.field("max_wait", format_duration(d.max_wait));
    with_key(p, d.key);
    w.raw("debounce", p.finish());
  }
  if (const auto& b = flow.batch; b.max_size > 0) {
    json::object_writer p;
    p.field("max_size", uint64_t{b.max_size})
        .field("max_wait", format_duration(b.max_wait));
    with_key(p, b.key);
    w.raw("batch", p.finish());
  }
  if (const auto& pr = flow.priority; !pr.value.empty()) {
    json::object_writer p;
    const auto& s = pr.value;
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc{} && ptr == s.data() + s.size())
      p.field("value", n);
    else
      p.field("value", s);
    p.field("aging", format_duration(pr.aging));
    w.raw("priority", p.finish());
  }
  if (const auto& sg = flow.singleton; sg.enabled) {
    json::object_writer p;
    with_key(p, sg.key);
    p.field("mode", sg.mode_names[sg.mode]);
    w.raw("singleton", p.finish());
  }
  if (const auto& q = flow.queue; q.max > 0) {
    json::object_writer p;
    p.field("max", uint64_t{q.max})
        .field("on_full", q.on_full_names[q.on_full]);
    w.raw("queue", p.finish());
  }
  if (const auto& c = flow.circuit; c.failures > 0) {
    json::object_writer p;
    p.field("failures", uint64_t{c.failures})
        .field("cool_off", format_duration(c.cool_off))
        .field("mode", c.mode_names[c.mode]);
    w.raw("circuit", p.finish());
  }
  if (const auto& b = flow.budget; b.on()) {
    json::object_writer p;
    if (b.runs > 0)
      p.field("runs", b.runs);
    if (b.cost > 0)
      p.field("cost", b.cost);
    p.field("per", format_duration(b.per));
    with_key(p, b.key);
    w.raw("budget", p.finish());
  }
}

} // namespace

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
  if (trg.flow.concurrency_key.empty()) {
    w.field("concurrency", uint64_t{trg.concurrency});
  } else {
    json::object_writer c;
    c.field("limit", uint64_t{trg.concurrency})
        .field("key", trg.flow.concurrency_key);
    w.raw("concurrency", c.finish());
  }
  write_flow(w, trg.flow);
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

bool wants_run_events(std::string_view on_json) {
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(on_json.data(), on_json.size()).get(root)
      != simdjson::SUCCESS)
    return false;
  auto lists = [&](const char* field, auto&& accept) {
    simdjson::dom::array alternatives;
    if (root[field].get_array().get(alternatives) != simdjson::SUCCESS)
      return false;
    for (auto alt : alternatives) {
      std::string_view text;
      object op;
      if (alt.get_string().get(text) == simdjson::SUCCESS) {
        if (accept(text))
          return true;
      } else if (alt.get_object().get(op) == simdjson::SUCCESS
                 && op["prefix"].get_string().get(text) == simdjson::SUCCESS
                 && accept(text)) {
        return true;
      }
    }
    return false;
  };
  auto rouse_source = [](std::string_view s) {
    return s == "rouse" || s.starts_with("rouse");
  };
  auto rouse_type = [](std::string_view t) {
    return t.starts_with("rouse.") || t == "rouse";
  };
  return lists("source", rouse_source) || lists("type", rouse_type);
}

} // namespace rouse::config
