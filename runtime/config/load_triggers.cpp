// Loads `triggers:`: each trigger's keys, handing `on`, `run` and the flow
// policies to their own files, and reads concurrency and retry here.
#include "runtime/config/loader.hpp"

#include <cstdlib>
#include <limits>

namespace rouse::config::detail {

void loader::load_triggers(const field& f) {
  if (f.node.IsNull())
    return;
  if (!expect_map(f, "a map of trigger name to trigger"))
    return;
  for (auto& [name, value] : read_named_map(f)) {
    trigger_config trg;
    trg.name = name;
    trg.line = value.key_mark.line + 1;
    if (!expect_map(value, "a map with on and run"))
      continue;
    auto m =
        read_map(value, {"on", "run", "concurrency", "rate", "debounce",
                         "batch", "priority", "singleton", "queue", "circuit",
                         "budget", "retry", "enabled", "ignore_self"});
    bool ok = true;
    if (auto on = find(m, "on"))
      ok &= load_on(*on, trg);
    else
      ok = missing(value, "on", "the events to match, e.g. on: {type: x}");
    if (auto run = find(m, "run"))
      ok &= load_run(*run, trg.run);
    else
      ok = missing(value, "run", "what to run, e.g. run: {exec: [cmd]}");
    if (auto v = find(m, "concurrency"))
      ok &= load_concurrency(*v, trg);
    ok &= load_flow(value, m, trg.flow);
    if (auto v = find(m, "retry"))
      ok &= load_retry(*v, trg.retry);
    if (auto v = find(m, "enabled")) {
      if (auto b = get_bool(*v))
        trg.enabled = *b;
      else
        ok = false;
    }
    if (auto v = find(m, "ignore_self")) {
      if (auto b = get_bool(*v))
        trg.ignore_self = *b;
      else
        ok = false;
    }
    if (ok)
      cfg_.triggers.push_back(std::move(trg));
  }
}

bool loader::load_retry(const field& f, retry_policy& retry) {
  if (!expect_map(f, "a map with attempts, backoff, max_backoff, jitter"))
    return false;
  auto errors_before = errors_.size();
  auto m = read_map(f, {"attempts", "backoff", "max_backoff", "jitter"});
  if (auto v = find(m, "attempts"))
    if (auto n = get_uint(*v, 1, 100))
      retry.attempts = static_cast<uint32_t>(*n);
  if (auto v = find(m, "backoff"))
    if (auto d = get_duration(*v))
      retry.backoff = *d;
  if (auto v = find(m, "max_backoff"))
    if (auto d = get_duration(*v))
      retry.max_backoff = *d;
  if (auto v = find(m, "jitter"))
    if (auto s = get_scalar(*v, "a number from 0 to 1")) {
      char* end = nullptr;
      double x = std::strtod(s->c_str(), &end);
      if (s->empty() || *end != '\0' || !(x >= 0 && x <= 1))
        error(value_mark(*v), v->path,
              "expected a number from 0 to 1, got " + quote(*s));
      else
        retry.jitter = x;
    }
  return errors_.size() == errors_before;
}

bool loader::load_concurrency(const field& f, trigger_config& trg) {
  constexpr uint64_t max = std::numeric_limits<uint32_t>::max();
  if (f.node.IsMap()) {
    auto errors_before = errors_.size();
    auto m = read_map(f, {"limit", "key"});
    auto limit = find(m, "limit");
    std::optional<uint64_t> n;
    if (limit)
      n = get_uint(*limit, 0, max);
    else
      missing(f, "limit", "the number of runs allowed at once");
    if (n)
      trg.concurrency = static_cast<uint32_t>(*n);
    if (auto v = find(m, "key"))
      if (auto s = get_key(*v)) {
        trg.flow.concurrency_key = std::move(*s);
        if (n == 0u)
          error(value_mark(*limit), limit->path,
                "a key needs a limit of at least 1");
      }
    return errors_.size() == errors_before;
  }
  if (!f.node.IsScalar()) {
    error(value_mark(f), f.path,
          "expected an integer or {limit: N}, got " + describe_type(f.node));
    return false;
  }
  auto n = get_uint(f, 0, max);
  if (n)
    trg.concurrency = static_cast<uint32_t>(*n);
  return n.has_value();
}

} // namespace rouse::config::detail
