// Cron source config validation (with the file and line of each problem),
// state encoding (CAF's binary format through inspect(), like the run
// records) and the schedule's JSON view.
#include "sources/cron/cron_config.hpp"

#include "runtime/config/parse.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "sources/source_params.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <yaml-cpp/yaml.h>

#include <set>
#include <variant>

namespace rouse::sources::cron {

namespace {

std::string known_list(const std::set<std::string>& known) {
  std::string list;
  for (const auto& k : known)
    list += (list.empty() ? "" : ", ") + k;
  return list;
}

} // namespace

std::vector<cron_source_config>
load_cron_sources(const config::config& cfg,
                  std::vector<config::diagnostic>& errors) {
  std::vector<cron_source_config> result;
  for (const auto& src : cfg.sources) {
    if (src.kind != "cron")
      continue;
    param_reader r{cfg, src, errors};
    auto before = errors.size();
    YAML::Node params;
    try {
      params = YAML::Load(src.params_yaml);
    } catch (const YAML::Exception& e) {
      r.error("", "cannot read parameters: " + e.msg);
      continue;
    }
    static const std::set<std::string> known{
        "schedule",    "timezone", "overlap", "catchup", "catchup_window",
        "catchup_max", "jitter",   "grace",   "dst",     "type"};
    cron_source_config c;
    c.name = src.name;
    std::string expr;
    bool has_schedule = false;
    rouse::cron::options opts;
    for (auto kv : params) {
      auto key = kv.first.Scalar();
      const YAML::Node value = kv.second;
      if (known.count(key) == 0) {
        r.error(key,
                "unknown key (expected one of: " + known_list(known) + ")");
        continue;
      }
      if (key == "schedule") {
        if (auto s = r.scalar(value, key)) {
          expr = *s;
          has_schedule = true;
        }
      } else if (key == "timezone") {
        if (auto s = r.scalar(value, key))
          opts.timezone = *s;
      } else if (key == "type") {
        if (auto s = r.scalar(value, key)) {
          if (s->empty())
            r.error(key, "must not be empty");
          else
            c.type = *s;
        }
      } else if (key == "overlap") {
        if (auto s = r.scalar(value, key)) {
          if (auto p = parse_overlap(*s))
            c.policy.overlap = *p;
          else
            r.error(key, "unknown policy " + config::quote(*s)
                             + " (skip, buffer_one, buffer_all, "
                               "cancel_other, allow_all)");
        }
      } else if (key == "catchup") {
        if (auto s = r.scalar(value, key)) {
          if (auto p = parse_catchup(*s))
            c.policy.catchup = *p;
          else
            r.error(key, "unknown policy " + config::quote(*s)
                             + " (none, last, all)");
        }
      } else if (key == "catchup_window") {
        if (auto d = r.duration(value, key))
          c.policy.catchup_window = *d;
      } else if (key == "jitter") {
        if (auto d = r.duration(value, key))
          c.policy.jitter = *d;
      } else if (key == "grace") {
        if (auto d = r.duration(value, key))
          c.policy.grace = *d;
      } else if (key == "catchup_max") {
        auto s = r.scalar(value, key);
        uint32_t n = 0;
        bool ok = s && !s->empty() && s->size() <= 6
                  && s->find_first_not_of("0123456789") == std::string::npos;
        if (ok)
          n = static_cast<uint32_t>(std::stoul(*s));
        if (!ok || n == 0 || n > 100000)
          r.error(key, "must be a whole number from 1 to 100000");
        else
          c.policy.catchup_max = n;
      } else if (key == "dst") {
        if (!value.IsMap()) {
          r.error(key, "expected a map with repeated and/or skipped");
          continue;
        }
        for (auto d : value) {
          auto dkey = d.first.Scalar();
          auto path = "dst." + dkey;
          auto s = r.scalar(d.second, path);
          if (!s)
            continue;
          if (dkey == "repeated") {
            if (*s == "once")
              opts.repeated = rouse::cron::repeated_hour::once;
            else if (*s == "twice")
              opts.repeated = rouse::cron::repeated_hour::twice;
            else
              r.error(path, "expected once or twice, got " + config::quote(*s));
          } else if (dkey == "skipped") {
            if (*s == "shift")
              opts.skipped = rouse::cron::skipped_hour::shift;
            else if (*s == "skip")
              opts.skipped = rouse::cron::skipped_hour::skip;
            else
              r.error(path, "expected shift or skip, got " + config::quote(*s));
          } else {
            r.error(path, "unknown key (expected repeated, skipped)");
          }
        }
      }
    }
    if (!has_schedule) {
      r.error("", "missing schedule (a cron expression such as \"0 3 * * *\", "
                  "a macro such as @daily, or @every 90s)");
    } else if (errors.size() == before) {
      auto parsed = rouse::cron::schedule::parse(expr, opts);
      if (auto* why = std::get_if<std::string>(&parsed))
        r.error("schedule",
                "invalid cron expression " + config::quote(expr) + ": " + *why);
      else
        c.schedule = std::make_shared<const rouse::cron::schedule>(
            std::get<rouse::cron::schedule>(std::move(parsed)));
    }
    if (errors.size() == before)
      result.push_back(std::move(c));
  }
  return result;
}

std::string state_key(std::string_view source_name) {
  return "schedule/" + std::string{source_name};
}

std::string encode_state(const ticker_state& st) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto err = sink(const_cast<ticker_state&>(st));
  static_cast<void>(err); // integers and containers of them cannot fail
  return std::string{buf.begin(), buf.end()};
}

bool decode_state(std::string_view bytes, ticker_state& st) {
  caf::binary_deserializer source{nullptr, bytes.data(), bytes.size()};
  return !source(st) && source.remaining() == 0;
}

std::string render_schedule(const cron_source_config& src,
                            const ticker_state& st, int64_t now_ns,
                            int upcoming) {
  const auto& s = *src.schedule;
  json::object_writer w;
  w.field("id", src.name)
      .field("schedule", s.text())
      .field("timezone", s.opts().timezone)
      .field("type", src.type)
      .field("overlap", to_string(src.policy.overlap))
      .field("catchup", to_string(src.policy.catchup))
      .field("catchup_window",
             config::format_duration(
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     src.policy.catchup_window)))
      .field("catchup_max", src.policy.catchup_max)
      .field("jitter",
             config::format_duration(
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     src.policy.jitter)))
      .field("dst_repeated",
             s.opts().repeated == rouse::cron::repeated_hour::once ? "once"
                                                                   : "twice")
      .field("dst_skipped", s.opts().skipped == rouse::cron::skipped_hour::shift
                                ? "shift"
                                : "skip");
  json::array_writer next;
  auto from = std::max(now_ns, st.decided_through_ns);
  for (int i = 0; i < upcoming; ++i) {
    auto n = s.next(from);
    if (!n)
      break;
    next.value(s.format(*n));
    from = *n;
  }
  w.raw("next", next.finish());
  if (st.decided_through_ns > 0)
    w.field("decided_through", s.format(st.decided_through_ns));
  w.field("fired", st.fired)
      .field("skipped", st.skipped)
      .field("missed", st.missed);
  json::array_writer buffered;
  for (auto b : st.buffered)
    buffered.value(s.format(b));
  w.raw("buffered", buffered.finish());
  json::array_writer ticks;
  for (auto i = st.recent.rbegin(); i != st.recent.rend(); ++i) {
    json::object_writer rec;
    rec.field("nominal", s.format(i->nominal_ns))
        .field("outcome", to_string(static_cast<tick_outcome>(i->outcome)))
        .field("decided_at", json::format_rfc3339(i->decided_ns))
        .field("late_ms", (i->decided_ns - i->due_ns) / 1000000);
    if (i->event_seq > 0)
      rec.field("event_seq", i->event_seq);
    ticks.raw(rec.finish());
  }
  w.raw("ticks", ticks.finish());
  return w.finish();
}

} // namespace rouse::sources::cron
