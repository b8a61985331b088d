// Webhook source: config validation, and per request verify -> rate limit ->
// build events -> journal append -> answer from the commit callback. A
// normalized git.push gets source "git" and a content id (push_event_id), so
// the same push reported by a local git hook is one event.
#include "sources/webhook/webhook_source.hpp"

#include "sources/source_params.hpp"

#include "messages/errc.hpp"
#include "runtime/api/api.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"
#include "runtime/template/template.hpp"
#include "runtime/webhook/crypto.hpp"
#include "runtime/webhook/normalize.hpp"

#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

namespace rouse::sources::webhook {

namespace {

namespace wh = ::rouse::webhook;

using sources::param_reader;

bool json_content_type(std::string_view ct) {
  auto semi = ct.find(';');
  auto base = ct.substr(0, semi);
  while (!base.empty() && base.back() == ' ')
    base.remove_suffix(1);
  std::string lower{base};
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return lower == "application/json" || lower.ends_with("+json")
         || lower == "text/json";
}

bool valid_json(std::string_view body) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS;
}

http::response json_response(int status, std::string body) {
  http::response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http::response error_response(int status, std::string_view message) {
  json::object_writer w;
  w.field("error", message);
  return json_response(status, w.finish());
}

/// A token bucket: `limit` requests per `per`, refilled continuously.
class rate_limiter {
public:
  rate_limiter(uint32_t limit, std::chrono::milliseconds per)
      : limit_(limit), per_(per), tokens_(limit),
        last_(std::chrono::steady_clock::now()) {}

  /// Takes a token; returns false if none is left.
  bool take() {
    if (limit_ == 0)
      return true;
    std::lock_guard<std::mutex> guard{mutex_};
    auto now = std::chrono::steady_clock::now();
    auto elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min<double>(
        limit_,
        tokens_
            + elapsed * limit_ / std::chrono::duration<double>(per_).count());
    if (tokens_ < 1.0)
      return false;
    tokens_ -= 1.0;
    return true;
  }

  /// Seconds a rejected client should wait.
  uint64_t retry_after() const {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(per_).count();
    return s < 1 ? 1 : static_cast<uint64_t>(s);
  }

private:
  uint32_t limit_;
  std::chrono::milliseconds per_;
  std::mutex mutex_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

struct source_state {
  webhook_config cfg;
  std::unique_ptr<rate_limiter> limiter;
  std::atomic<uint64_t>* received = nullptr;
  std::atomic<uint64_t>* duplicates = nullptr;
};

/// The event type of a provider's own event: "github.push" etc.
std::string provider_type(const wh::verified& info) {
  auto provider = info.provider;
  if (provider == "github" || provider == "forgejo" || provider == "gitea"
      || provider == "gitlab")
    return wh::native_type(provider, info.event_type);
  if (provider == "standard_webhooks")
    provider = "webhook";
  if (info.event_type.empty())
    return provider + ".event";
  return provider + "." + info.event_type;
}

/// Returns push_event_id() of a normalized git.push, or nullopt when its repo,
/// ref, before or after is empty: such a payload identifies no push, and
/// hashing it would collapse unrelated deliveries into one event.
std::optional<std::string> push_id(std::string_view data) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(data.data(), data.size()).get(doc) != simdjson::SUCCESS)
    return std::nullopt;
  std::array<std::string_view, 4> parts;
  const std::array<const char*, 4> keys{"repo", "ref", "before", "after"};
  for (size_t i = 0; i < keys.size(); ++i)
    if (doc[keys[i]].get_string().get(parts[i]) != simdjson::SUCCESS
        || parts[i].empty())
      return std::nullopt;
  return wh::push_event_id(parts[0], parts[1], parts[2], parts[3]);
}

/// Builds a binary-mode CloudEvent from `ce-*` headers.
caf::expected<event> binary_event(const http::request& req) {
  event ev;
  std::string specversion;
  for (const auto& h : req.headers) {
    std::string name = h.name;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (!name.starts_with("ce-"))
      continue;
    auto attr = name.substr(3);
    if (attr == "id")
      ev.id = h.value;
    else if (attr == "source")
      ev.source = h.value;
    else if (attr == "type")
      ev.type = h.value;
    else if (attr == "specversion")
      specversion = h.value;
    else if (attr == "subject")
      ev.subject = h.value;
    else if (attr == "time")
      ev.time = h.value;
    else if (attr == "dataschema")
      ev.dataschema = h.value;
    else
      ev.extensions.push_back({attr, json::quote(h.value)});
  }
  if (specversion.empty())
    return make_error(errc::invalid_input,
                      "not a CloudEvent: no ce-specversion header (binary "
                      "mode) and Content-Type is not "
                      "application/cloudevents+json (structured mode)");
  if (specversion != "1.0")
    return make_error(errc::invalid_input, "ce-specversion must be 1.0, got "
                                               + json::quote(specversion));
  if (ev.id.empty() || ev.source.empty() || ev.type.empty())
    return make_error(errc::invalid_input,
                      "binary-mode CloudEvent needs ce-id, ce-source and "
                      "ce-type headers");
  // Re-encode and decode so binary mode is validated exactly like the other
  // modes (extension names, time format).
  const auto* ct = req.find_header("Content-Type");
  if (ct != nullptr)
    ev.datacontenttype = *ct;
  if (!req.body.empty()) {
    if (ct == nullptr || json_content_type(*ct)) {
      if (!valid_json(req.body))
        return make_error(errc::invalid_input,
                          "the body is not valid JSON but Content-Type is "
                              + (ct ? *ct : std::string{"absent"}));
      ev.data = req.body;
      if (ct == nullptr)
        ev.datacontenttype = "application/json";
    } else {
      ev.data = wh::base64_encode(req.body);
      ev.data_is_base64 = true;
    }
  }
  return json::decode_event(json::encode_cloudevent(ev));
}

} // namespace

std::vector<webhook_config>
load_webhook_sources(const config::config& cfg,
                     std::vector<config::diagnostic>& errors) {
  std::vector<webhook_config> result;
  std::set<std::string> paths;
  for (const auto& src : cfg.sources) {
    param_reader r{cfg, src, errors};
    if (src.kind == "cron")
      continue; // sources/cron validates its own
    if (src.kind != "webhook") {
      r.error("kind", "unknown source kind \"" + src.kind
                          + "\" (this build has: webhook, cron; events can "
                            "also be posted to /api/events)");
      continue;
    }
    auto before = errors.size();
    YAML::Node params;
    try {
      params = YAML::Load(src.params_yaml);
    } catch (const YAML::Exception& e) {
      r.error("", "cannot read parameters: " + e.msg);
      continue;
    }
    webhook_config w;
    w.name = src.name;
    w.type = src.name + ".received";
    bool format_set = false;
    static const std::set<std::string> known{
        "path",   "scheme",    "secret",     "secrets",  "tolerance",
        "header", "algorithm", "encoding",   "prefix",   "format",
        "type",   "dedup_key", "rate_limit", "normalize"};
    for (auto kv : params) {
      auto key = kv.first.Scalar();
      const YAML::Node value = kv.second;
      if (known.count(key) == 0) {
        std::string list;
        for (const auto& k : known)
          list += (list.empty() ? "" : ", ") + k;
        r.error(key, "unknown key (expected one of: " + list + ")");
        continue;
      }
      if (key == "path") {
        if (auto s = r.scalar(value, key)) {
          if (!s->starts_with("/") || s->find('?') != std::string::npos)
            r.error(key, "must start with / and hold no query, got "
                             + config::quote(*s));
          else if (*s == "/healthz" || *s == "/metrics" || *s == "/api"
                   || s->starts_with("/api/"))
            r.error(key, config::quote(*s) + " is reserved for the API");
          else if (!paths.insert(*s).second)
            r.error(key, config::quote(*s) + " is used by another source");
          else
            w.path = *s;
        }
      } else if (key == "scheme") {
        if (auto s = r.scalar(value, key)) {
          if (auto k = wh::parse_scheme(*s))
            w.verify.kind = *k;
          else
            r.error(key, "unknown scheme " + config::quote(*s)
                             + " (github, forgejo, gitea, gitlab, stripe, "
                               "slack, standard-webhooks, hmac, token, none)");
        }
      } else if (key == "secret" || key == "secrets") {
        std::vector<std::string> specs;
        if (value.IsSequence()) {
          for (const auto& item : value)
            if (item.IsScalar())
              specs.push_back(item.Scalar());
            else
              r.error(key, "expected a list of env:NAME or file:PATH");
        } else if (auto s = r.scalar(value, key)) {
          specs.push_back(*s);
        }
        for (const auto& spec : specs) {
          auto secret = config::resolve_secret(spec, cfg.base_dir);
          if (secret)
            w.verify.secrets.push_back(std::move(*secret));
          else
            r.error(key, describe(secret.error()));
        }
      } else if (key == "tolerance") {
        if (auto s = r.scalar(value, key)) {
          auto d = config::parse_duration(*s);
          if (!d || d->count() < 1000)
            r.error(key, "expected a duration of at least 1s, got "
                             + config::quote(*s));
          else
            w.verify.tolerance =
                std::chrono::duration_cast<std::chrono::seconds>(*d);
        }
      } else if (key == "header") {
        if (auto s = r.scalar(value, key))
          w.verify.header = *s;
      } else if (key == "algorithm") {
        if (auto s = r.scalar(value, key))
          w.verify.algorithm = *s;
      } else if (key == "encoding") {
        if (auto s = r.scalar(value, key))
          w.verify.encoding = *s;
      } else if (key == "prefix") {
        if (auto s = r.scalar(value, key))
          w.verify.prefix = *s;
      } else if (key == "format") {
        if (auto s = r.scalar(value, key)) {
          format_set = true;
          if (*s == "provider")
            w.format = body_format::provider;
          else if (*s == "cloudevents")
            w.format = body_format::cloudevents;
          else if (*s == "json")
            w.format = body_format::json;
          else
            r.error(key, "expected provider, cloudevents or json, got "
                             + config::quote(*s));
        }
      } else if (key == "type") {
        if (auto s = r.scalar(value, key))
          w.type = *s;
      } else if (key == "dedup_key") {
        if (auto s = r.scalar(value, key)) {
          if (auto t = tmpl::text_template::parse(*s); !t)
            r.error(key, describe(t.error()));
          else if (!t->has_references())
            r.error(key, "must reference the request, e.g. "
                         "\"{{header.X-Request-Id}}\" or \"{{data.id}}\"");
          else
            w.dedup_key = *s;
        }
      } else if (key == "rate_limit") {
        if (!value.IsMap() || !value["limit"] || !value["limit"].IsScalar()) {
          r.error(key, "expected {limit: N, per: DURATION}");
          continue;
        }
        try {
          auto n = value["limit"].as<uint32_t>();
          w.rate_limit = n;
        } catch (const YAML::Exception&) {
          r.error(key, "limit must be a non-negative integer");
        }
        if (value["per"]) {
          auto d = config::parse_duration(
              value["per"].IsScalar() ? value["per"].Scalar() : "");
          if (!d || d->count() <= 0)
            r.error(key, "per must be a positive duration such as 1s");
          else
            w.rate_per = *d;
        }
      } else if (key == "normalize") {
        bool b = true;
        if (!value.IsScalar() || !YAML::convert<bool>::decode(value, b))
          r.error(key, "expected true or false");
        w.normalize = b;
      }
    }
    if (w.path.empty() && errors.size() == before)
      r.error("", "missing required key \"path\" (e.g. path: /hooks/" + src.name
                      + ")");
    if (!format_set)
      switch (w.verify.kind) {
      case wh::scheme::hmac:
      case wh::scheme::token:
      case wh::scheme::none: w.format = body_format::json; break;
      default: w.format = body_format::provider;
      }
    if (errors.size() == before)
      if (auto problem = wh::validate(w.verify))
        r.error("", *problem);
    if (w.verify.kind == wh::scheme::none
        && !config::is_loopback(cfg.node.listen_host))
      r.error("scheme", "none accepts unsigned requests and is only allowed "
                        "when node.listen is a loopback address");
    if (errors.size() == before)
      result.push_back(std::move(w));
  }
  return result;
}

struct webhook_routes::impl {
  store::journal* journal = nullptr;
  metrics::registry* metrics = nullptr;
  std::unordered_map<std::string, std::unique_ptr<source_state>> by_path;

  void reject(source_state& s, http::responder& respond, int status,
              std::string_view reason, std::string_view message) {
    metrics->webhook_rejected.inc(metrics::label("source", s.cfg.name) + ","
                                  + metrics::label("reason", reason));
    respond(error_response(status, message));
  }

  /// The dedup-key template rendered against the request, or "".
  static std::string render_key(const webhook_config& cfg,
                                const http::request& req, const event& ev) {
    if (cfg.dedup_key.empty())
      return {};
    auto t = tmpl::text_template::parse(cfg.dedup_key);
    if (!t)
      return {};
    tmpl::event_lookup lookup{ev};
    std::vector<std::string> missing;
    auto key = t->render(
        [&](std::string_view path) -> std::optional<std::string> {
          if (path.starts_with("header.")) {
            if (const auto* h = req.find_header(path.substr(7)))
              return *h;
            return std::nullopt;
          }
          return lookup.get(path);
        },
        missing);
    return missing.empty() ? key : std::string{};
  }

  void handle(source_state& s, http::request& req, http::responder respond) {
    const auto& cfg = s.cfg;
    if (req.method != "POST") {
      auto r = error_response(405, "method not allowed");
      r.headers.push_back({"Allow", "POST"});
      return respond(std::move(r));
    }
    wh::request_view view;
    view.header =
        [&req](std::string_view name) -> std::optional<std::string_view> {
      if (const auto* h = req.find_header(name))
        return std::string_view{*h};
      return std::nullopt;
    };
    view.body = req.body;
    view.now_unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    auto verdict = wh::verify(cfg.verify, view);
    if (!verdict)
      return reject(s, respond, 401, wh::to_string(verdict.reason),
                    "webhook rejected: "
                        + std::string{wh::to_string(verdict.reason)});
    if (!s.limiter->take()) {
      metrics->webhook_rejected.inc(metrics::label("source", cfg.name) + ","
                                    + metrics::label("reason", "rate_limited"));
      auto r = error_response(429, "over the source's rate limit");
      r.headers.push_back(
          {"Retry-After", std::to_string(s.limiter->retry_after())});
      return respond(std::move(r));
    }
    std::vector<event> events;
    if (cfg.format == body_format::cloudevents) {
      const auto* ct = req.find_header("Content-Type");
      std::string lower = ct ? *ct : std::string{};
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (lower.starts_with("application/cloudevents-batch+json")) {
        auto list = json::decode_events(req.body);
        if (!list)
          return reject(s, respond, 400, "malformed", describe(list.error()));
        auto first = req.body.find_first_not_of(" \t\r\n");
        if (first == std::string::npos || req.body[first] != '[')
          return reject(s, respond, 400, "malformed",
                        "a batch must be a JSON array of CloudEvents");
        events = std::move(*list);
      } else if (lower.starts_with("application/cloudevents+json")) {
        auto one = json::decode_event(req.body);
        if (!one)
          return reject(s, respond, 400, "malformed", describe(one.error()));
        events.push_back(std::move(*one));
      } else {
        auto one = binary_event(req);
        if (!one)
          return reject(s, respond, 400, "malformed", describe(one.error()));
        events.push_back(std::move(*one));
      }
    } else {
      if (!valid_json(req.body))
        return reject(s, respond, 400, "malformed",
                      "the body is not JSON (configure the sender to post "
                      "application/json)");
      event ev;
      ev.source = cfg.name;
      ev.datacontenttype = "application/json";
      ev.data = req.body;
      ev.time = json::format_rfc3339(
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count());
      if (cfg.format == body_format::provider) {
        if (verdict.info.provider == "slack") {
          // Slack's endpoint check: echo the challenge, store nothing.
          thread_local simdjson::dom::parser parser;
          simdjson::dom::element doc;
          std::string_view type, challenge;
          if (parser.parse(req.body).get(doc) == simdjson::SUCCESS
              && doc["type"].get_string().get(type) == simdjson::SUCCESS
              && type == "url_verification"
              && doc["challenge"].get_string().get(challenge)
                     == simdjson::SUCCESS) {
            json::object_writer w;
            w.field("challenge", challenge);
            return respond(json_response(200, w.finish()));
          }
        }
        ev.type = provider_type(verdict.info);
        ev.id = verdict.info.delivery_id;
      } else {
        ev.type = cfg.type;
      }
      if (auto key = render_key(cfg, req, ev); !key.empty())
        ev.id = key;
      if (ev.id.empty())
        ev.id = json::random_hex_id();
      auto base_id = ev.id;
      auto provider = verdict.info.provider;
      auto event_type = verdict.info.event_type;
      events.push_back(std::move(ev));
      if (cfg.format == body_format::provider && cfg.normalize)
        for (auto& n : wh::normalize(provider, event_type, req.body)) {
          event extra;
          extra.id = base_id + "/" + n.type;
          extra.source = cfg.name;
          if (n.type == "git.push")
            if (auto id = push_id(n.data)) {
              extra.id = std::move(*id);
              extra.source = "git";
            }
          extra.type = n.type;
          extra.datacontenttype = "application/json";
          extra.data = std::move(n.data);
          extra.time = events.front().time;
          extra.subject = provider;
          events.push_back(std::move(extra));
        }
    }
    for (const auto& ev : events)
      if (ev.id.size() + ev.source.size() > store::max_id_and_source_bytes)
        return reject(s, respond, 400, "malformed",
                      "event id and source together are too long");
    if (journal->overloaded()) {
      metrics->webhook_rejected.inc(metrics::label("source", cfg.name) + ","
                                    + metrics::label("reason", "overloaded"));
      auto r = error_response(503, "overloaded: " + journal->overload_reason()
                                       + "; retry later");
      r.headers.push_back({"Retry-After", "1"});
      return respond(std::move(r));
    }
    for (auto& ev : events)
      ev.received_by = cfg.name;
    store::append_op op;
    op.events = std::move(events);
    op.done =
        api::answer_append(std::move(respond), s.received, s.duplicates, 1);
    journal->submit(std::move(op));
  }
};

webhook_routes::webhook_routes(std::vector<webhook_config> sources,
                               store::journal* journal,
                               metrics::registry* metrics)
    : impl_(std::make_unique<impl>()) {
  impl_->journal = journal;
  impl_->metrics = metrics;
  for (auto& cfg : sources) {
    auto s = std::make_unique<source_state>();
    s->limiter = std::make_unique<rate_limiter>(cfg.rate_limit, cfg.rate_per);
    s->received =
        &metrics->events_received.with(metrics::label("source", cfg.name));
    s->duplicates =
        &metrics->events_duplicate.with(metrics::label("source", cfg.name));
    auto path = cfg.path;
    s->cfg = std::move(cfg);
    impl_->by_path.emplace(std::move(path), std::move(s));
  }
}

webhook_routes::~webhook_routes() = default;

bool webhook_routes::handle(http::request& req, http::responder& respond) {
  auto i = impl_->by_path.find(req.path);
  if (i == impl_->by_path.end())
    return false;
  impl_->handle(*i->second, req, std::move(respond));
  return true;
}

} // namespace rouse::sources::webhook
