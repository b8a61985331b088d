// Triggers as JSON: the flow policies (concurrency, rate, debounce, batch,
// priority, singleton, queue, circuit, budget) of POST/PUT /api/triggers.
// Mirrors runtime/config/load_flow.cpp, the YAML loader of the same policies.
#include "runtime/config/trigger_json_read.hpp"

#include "messages/errc.hpp"
#include "runtime/template/template.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace rouse::config::json_detail {

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

namespace {

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

} // namespace

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

} // namespace rouse::config::json_detail
