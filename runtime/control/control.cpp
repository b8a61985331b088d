// Control file parsing with simdjson's DOM: the document is small and read
// once per run.
#include "runtime/control/control.hpp"

#include "runtime/config/parse.hpp"
#include "runtime/cron/schedule.hpp"
#include "runtime/pattern/pattern.hpp"

#include <simdjson.h>

#include <chrono>
#include <string>

namespace rouse::control {

namespace {

caf::error bad(std::string what) {
  return make_error(errc::invalid_input, "control file: " + std::move(what));
}

caf::expected<int64_t> duration_ns(simdjson::dom::element v,
                                   std::string_view key) {
  std::string_view text;
  if (v.get_string().get(text) != simdjson::SUCCESS)
    return bad(std::string{key} + " must be a duration string such as \"5m\"");
  auto d = config::parse_duration(text);
  if (!d)
    return bad(std::string{key} + ": " + describe(d.error()));
  return std::chrono::duration_cast<std::chrono::nanoseconds>(*d).count();
}

bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

} // namespace

caf::error apply(std::string_view text, int64_t now_ns, run_outcome& out) {
  if (text.size() > max_control_bytes)
    return bad("larger than " + std::to_string(max_control_bytes) + " bytes");
  if (blank(text))
    return {};
  simdjson::dom::parser parser;
  simdjson::padded_string padded{text};
  simdjson::dom::element doc;
  if (auto code = parser.parse(padded).get(doc); code != simdjson::SUCCESS)
    return bad(std::string{"not JSON: "} + simdjson::error_message(code));
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS)
    return bad("must be a JSON object");
  run_outcome r = out;
  int waits = 0;
  for (auto [key, value] : obj) {
    if (key == "sleep") {
      auto d = duration_ns(value, key);
      if (!d)
        return std::move(d.error());
      r.wait_kind = 1;
      r.wait_due_ns = now_ns + *d;
      ++waits;
    } else if (key == "sleep_until") {
      std::string_view when;
      if (value.get_string().get(when) != simdjson::SUCCESS)
        return bad("sleep_until must be an ISO 8601 time string");
      auto at = cron::parse_iso8601(when);
      if (!at)
        return bad("sleep_until: \"" + std::string{when}
                   + "\" is not an ISO 8601 time such as "
                     "2026-12-01T09:00:00Z");
      r.wait_kind = 1;
      r.wait_due_ns = std::max(*at, now_ns);
      ++waits;
    } else if (key == "wait_for") {
      simdjson::dom::object w;
      if (value.get_object().get(w) != simdjson::SUCCESS)
        return bad("wait_for must be an object with a pattern");
      bool has_pattern = false;
      r.wait_kind = 2;
      r.wait_due_ns = 0;
      r.wait_since_now = false;
      for (auto [wkey, wvalue] : w) {
        if (wkey == "pattern") {
          if (!wvalue.is<simdjson::dom::object>())
            return bad("wait_for.pattern must be a JSON object");
          r.wait_pattern = simdjson::minify(wvalue);
          if (auto p = pattern::compile(r.wait_pattern, "wait_for.pattern"); !p)
            return bad(describe(p.error()));
          has_pattern = true;
        } else if (wkey == "timeout") {
          auto d = duration_ns(wvalue, "wait_for.timeout");
          if (!d)
            return std::move(d.error());
          r.wait_due_ns = *d > 0 ? now_ns + *d : 0;
        } else if (wkey == "since") {
          std::string_view since;
          if (wvalue.get_string().get(since) != simdjson::SUCCESS
              || (since != "run_start" && since != "now"))
            return bad("wait_for.since must be \"run_start\" or \"now\"");
          r.wait_since_now = since == "now";
        } else {
          return bad("unknown key wait_for." + std::string{wkey}
                     + " (expected pattern, timeout, since)");
        }
      }
      if (!has_pattern)
        return bad("wait_for needs a pattern");
      ++waits;
    } else if (key == "state") {
      r.state = simdjson::minify(value);
    } else if (key == "cost") {
      double cost = 0;
      if (value.get_double().get(cost) != simdjson::SUCCESS || cost < 0)
        return bad("cost must be a non-negative number");
      r.cost = cost;
    } else {
      return bad("unknown key \"" + std::string{key}
                 + "\" (expected sleep, sleep_until, wait_for, state, cost)");
    }
  }
  if (waits > 1)
    return bad("at most one of sleep, sleep_until and wait_for");
  out = std::move(r);
  return {};
}

} // namespace rouse::control
