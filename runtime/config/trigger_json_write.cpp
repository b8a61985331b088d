// Triggers as JSON, the other way: to_json() writes a trigger in the form
// parse_trigger_json() reads (how API-managed triggers are stored and shown),
// and wants_run_events() looks at a stored `on` for rouse.* events.
#include "runtime/config/config.hpp"

#include "runtime/json/writer.hpp"

#include <simdjson.h>

#include <charconv>

namespace rouse::config {

using simdjson::dom::element;
using simdjson::dom::object;

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
