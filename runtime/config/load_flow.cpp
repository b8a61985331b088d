// Loads a trigger's flow policies (flow_policy, docs/governors.md): rate,
// debounce, batch, priority, singleton, queue, circuit and budget.
#include "runtime/config/loader.hpp"

#include "messages/errc.hpp"
#include "runtime/template/template.hpp"

#include <charconv>

namespace rouse::config::detail {

bool loader::load_flow(const field& trg, const std::vector<entry>& m,
                       flow_policy& flow) {
  bool ok = true;
  if (auto v = find(m, "rate"))
    ok &= load_rate(*v, flow.rate);
  auto debounce = find(m, "debounce");
  if (debounce)
    ok &= load_debounce(*debounce, flow.debounce);
  auto batch = find(m, "batch");
  if (batch)
    ok &= load_batch(*batch, flow.batch);
  if (auto v = find(m, "priority"))
    ok &= load_priority(*v, flow.priority);
  if (auto v = find(m, "singleton"))
    ok &= load_singleton(*v, flow.singleton);
  if (auto v = find(m, "queue"))
    ok &= load_queue(*v, flow.queue);
  if (auto v = find(m, "circuit"))
    ok &= load_circuit(*v, flow.circuit);
  if (auto v = find(m, "budget"))
    ok &= load_budget(*v, flow.budget);
  if (debounce && batch) {
    auto before = [](const YAML::Mark& a, const YAML::Mark& b) {
      return std::pair{a.line, a.column} < std::pair{b.line, b.column};
    };
    const auto& second = before(debounce->key_mark, batch->key_mark)
                             ? batch->key_mark
                             : debounce->key_mark;
    error(second, trg.path, "debounce and batch cannot be combined");
    ok = false;
  }
  return ok;
}

bool loader::load_rate(const field& f, flow_policy::rate_policy& rate) {
  if (!expect_map(f, "a map with limit, per, key, mode"))
    return false;
  auto errors_before = errors_.size();
  auto m = read_map(f, {"limit", "per", "key", "mode"});
  if (auto v = find(m, "limit")) {
    if (auto n = get_uint(*v, 1, 1'000'000))
      rate.limit = static_cast<uint32_t>(*n);
  } else {
    missing(f, "limit", "the runs started per `per`, e.g. {limit: 10}");
  }
  if (auto v = find(m, "per"))
    if (auto d = get_positive_duration(*v))
      rate.per = *d;
  if (auto v = find(m, "key"))
    if (auto s = get_key(*v))
      rate.key = std::move(*s);
  if (auto v = find(m, "mode"))
    if (auto i = get_choice(*v, rate.mode_names))
      rate.mode = static_cast<flow_policy::rate_policy::mode_t>(*i);
  return errors_.size() == errors_before;
}

bool loader::load_debounce(const field& f,
                           flow_policy::debounce_policy& debounce) {
  if (!expect_map(f, "a map with period, max_wait, key"))
    return false;
  auto errors_before = errors_.size();
  auto m = read_map(f, {"period", "max_wait", "key"});
  if (auto v = find(m, "period")) {
    if (auto d = get_positive_duration(*v))
      debounce.period = *d;
  } else {
    missing(f, "period", "the quiet time that ends a burst, e.g. 5s");
  }
  if (auto v = find(m, "max_wait"))
    if (auto d = get_duration(*v)) {
      if (d->count() != 0 && debounce.period.count() != 0
          && *d < debounce.period)
        error(value_mark(*v), v->path,
              "must be 0 (no cap) or at least the period ("
                  + format_duration(debounce.period) + "), got "
                  + quote(v->node.Scalar()));
      else
        debounce.max_wait = *d;
    }
  if (auto v = find(m, "key"))
    if (auto s = get_key(*v))
      debounce.key = std::move(*s);
  return errors_.size() == errors_before;
}

bool loader::load_batch(const field& f, flow_policy::batch_policy& batch) {
  if (!expect_map(f, "a map with max_size, max_wait, key"))
    return false;
  auto errors_before = errors_.size();
  auto m = read_map(f, {"max_size", "max_wait", "key"});
  if (auto v = find(m, "max_size")) {
    if (auto n = get_uint(*v, 1, 10'000))
      batch.max_size = static_cast<uint32_t>(*n);
  } else {
    missing(f, "max_size", "the most events one run receives, e.g. 100");
  }
  if (auto v = find(m, "max_wait")) {
    if (auto d = get_positive_duration(*v))
      batch.max_wait = *d;
  } else {
    missing(f, "max_wait", "how long a batch may wait to fill, e.g. 10s");
  }
  if (auto v = find(m, "key"))
    if (auto s = get_key(*v))
      batch.key = std::move(*s);
  return errors_.size() == errors_before;
}

bool loader::load_priority(const field& f,
                           flow_policy::priority_policy& priority) {
  constexpr std::string_view what =
      "an integer, a \"{{path}}\" template or {value, aging}";
  if (f.node.IsScalar())
    return load_priority_value(f, priority.value);
  if (!f.node.IsMap()) {
    error(value_mark(f), f.path,
          "expected " + std::string{what} + ", got " + describe_type(f.node));
    return false;
  }
  if (f.node.size() == 1 && (*f.node.begin()).first.IsMap()) {
    error(value_mark(f), f.path,
          "expected " + std::string{what}
              + ", got a map (quote templates: \"{{...}}\")");
    return false;
  }
  auto errors_before = errors_.size();
  auto m = read_map(f, {"value", "aging"});
  if (auto v = find(m, "value")) {
    if (v->node.IsScalar())
      load_priority_value(*v, priority.value);
    else
      get_scalar(*v, "an integer or a \"{{path}}\" template");
  } else {
    missing(f, "value", "an integer or a \"{{path}}\" template");
  }
  if (auto v = find(m, "aging"))
    if (auto d = get_positive_duration(*v))
      priority.aging = *d;
  return errors_.size() == errors_before;
}

bool loader::load_priority_value(const field& f, std::string& value) {
  const auto& s = f.node.Scalar();
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (!s.empty() && ec == std::errc{} && ptr == s.data() + s.size()) {
    value = std::to_string(n);
    return true;
  }
  auto t = tmpl::text_template::parse(s);
  if (!t) {
    error(value_mark(f), f.path, describe(t.error()));
    return false;
  }
  if (!t->has_references()) {
    error(value_mark(f), f.path,
          "expected an integer or a \"{{path}}\" template, got " + quote(s));
    return false;
  }
  value = s;
  return true;
}

bool loader::load_singleton(const field& f,
                            flow_policy::singleton_policy& singleton) {
  bool b = false;
  if (f.node.IsScalar() && YAML::convert<bool>::decode(f.node, b)) {
    singleton.enabled = b;
    return true;
  }
  if (!f.node.IsMap()) {
    error(value_mark(f), f.path,
          "expected true, false or {key, mode}, got " + describe_type(f.node));
    return false;
  }
  auto errors_before = errors_.size();
  singleton.enabled = true;
  auto m = read_map(f, {"key", "mode"});
  if (auto v = find(m, "key"))
    if (auto s = get_key(*v))
      singleton.key = std::move(*s);
  if (auto v = find(m, "mode"))
    if (auto i = get_choice(*v, singleton.mode_names))
      singleton.mode = static_cast<flow_policy::singleton_policy::mode_t>(*i);
  return errors_.size() == errors_before;
}

bool loader::load_queue(const field& f, flow_policy::queue_policy& queue) {
  if (!expect_map(f, "a map with max, on_full"))
    return false;
  auto errors_before = errors_.size();
  auto m = read_map(f, {"max", "on_full"});
  if (auto v = find(m, "max")) {
    if (auto n = get_uint(*v, 1, 10'000'000))
      queue.max = static_cast<uint32_t>(*n);
  } else {
    missing(f, "max", "the most runs waiting, e.g. 1000");
  }
  if (auto v = find(m, "on_full"))
    if (auto i = get_choice(*v, queue.on_full_names))
      queue.on_full = static_cast<flow_policy::queue_policy::on_full_t>(*i);
  return errors_.size() == errors_before;
}

bool loader::load_circuit(const field& f,
                          flow_policy::circuit_policy& circuit) {
  if (!expect_map(f, "a map with failures, cool_off, mode"))
    return false;
  auto errors_before = errors_.size();
  auto m = read_map(f, {"failures", "cool_off", "mode"});
  if (auto v = find(m, "failures")) {
    if (auto n = get_uint(*v, 1, 1000))
      circuit.failures = static_cast<uint32_t>(*n);
  } else {
    missing(f, "failures", "consecutive failed runs that open it, e.g. 5");
  }
  if (auto v = find(m, "cool_off"))
    if (auto d = get_positive_duration(*v))
      circuit.cool_off = *d;
  if (auto v = find(m, "mode"))
    if (auto i = get_choice(*v, circuit.mode_names))
      circuit.mode = static_cast<flow_policy::circuit_policy::mode_t>(*i);
  return errors_.size() == errors_before;
}

bool loader::load_budget(const field& f, flow_policy::budget_policy& budget) {
  if (!expect_map(f, "a map with runs, cost, per, key"))
    return false;
  auto errors_before = errors_.size();
  auto m = read_map(f, {"runs", "cost", "per", "key"});
  if (auto v = find(m, "runs"))
    if (auto n = get_uint(*v, 1, 1'000'000'000))
      budget.runs = *n;
  if (auto v = find(m, "cost"))
    if (auto s = get_scalar(*v, "a number greater than 0")) {
      auto x = parse_positive_number(*s);
      if (!x)
        error(value_mark(*v), v->path,
              "expected a number greater than 0, got " + quote(*s));
      else
        budget.cost = *x;
    }
  if (!find(m, "runs") && !find(m, "cost"))
    missing(f, "runs",
            "runs and/or cost: what the trigger may spend per window, e.g. "
            "{runs: 100, per: 1d}");
  if (auto v = find(m, "per")) {
    if (auto d = get_positive_duration(*v))
      budget.per = *d;
  } else {
    missing(f, "per", "the window the budget is for, e.g. 1d");
  }
  if (auto v = find(m, "key"))
    if (auto s = get_key(*v))
      budget.key = std::move(*s);
  return errors_.size() == errors_before;
}

} // namespace rouse::config::detail
