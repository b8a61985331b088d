// API routes. Handlers never block on the journal: ingest submits an append and
// answers from the journal's commit callback through the responder.
#include "runtime/api/api.hpp"

#include "runtime/api/render.hpp"
#include "runtime/config/parse.hpp"
#include "runtime/http/server.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <simdjson.h>

#include <charconv>
#include <memory>

namespace rouse::api {

using http::error_response;

namespace {

http::response json_response(int status, std::string body) {
  http::response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |=
        static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

std::optional<uint64_t> parse_u64(const std::string* s) {
  if (s == nullptr || s->empty())
    return std::nullopt;
  uint64_t x = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), x);
  if (ec != std::errc{} || end != s->data() + s->size())
    return std::nullopt;
  return x;
}

class api {
public:
  explicit api(api_config cfg) : cfg_(std::move(cfg)) {
    received_ =
        &cfg_.metrics->events_received.with(metrics::label("source", "api"));
    duplicates_ =
        &cfg_.metrics->events_duplicate.with(metrics::label("source", "api"));
  }

  void handle(http::request&& req, http::responder respond) {
    const auto& path = req.path;
    if (path == "/healthz")
      return respond(healthz());
    if (!cfg_.token.empty() && !authorized(req)) {
      auto r = error_response(401, "missing or invalid bearer token");
      r.headers.push_back({"WWW-Authenticate", "Bearer"});
      return respond(std::move(r));
    }
    if (path == "/metrics") {
      if (req.method != "GET")
        return respond(method_not_allowed("GET"));
      http::response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = cfg_.metrics->render();
      return respond(std::move(r));
    }
    if (path == "/api/events") {
      if (req.method == "POST")
        return ingest(std::move(req), std::move(respond));
      if (req.method == "GET")
        return respond(list_events(req));
      return respond(method_not_allowed("GET, POST"));
    }
    if (cfg_.admin != nullptr
        && (path == "/api/triggers" || path.starts_with("/api/triggers/")))
      return triggers(std::move(req), std::move(respond));
    if (cfg_.admin != nullptr && path.starts_with("/api/events/")
        && path.ends_with("/explain") && path.size() > 20) {
      if (req.method != "GET")
        return respond(method_not_allowed("GET"));
      auto id = std::string_view{path}.substr(12, path.size() - 12 - 8);
      std::optional<std::string_view> source;
      if (auto* s = req.find_query("source"))
        source = *s;
      return respond(reply(cfg_.admin->explain(id, source)));
    }
    if (path.starts_with("/api/events/")) {
      if (req.method != "GET")
        return respond(method_not_allowed("GET"));
      return respond(get_event(req, path.substr(12)));
    }
    if (path == "/api/dlq") {
      if (req.method != "GET")
        return respond(method_not_allowed("GET"));
      return respond(list_runs(req, run_state::dead));
    }
    if (cfg_.admin != nullptr && path.starts_with("/api/dlq/")) {
      std::string_view rest{path};
      rest.remove_prefix(9);
      auto slash = rest.find('/');
      if (slash == std::string_view::npos) {
        if (req.method != "GET")
          return respond(method_not_allowed("GET"));
        return respond(get_run(std::string{rest}));
      }
      auto action = rest.substr(slash + 1);
      auto id = rest.substr(0, slash);
      if (req.method != "POST")
        return respond(method_not_allowed("POST"));
      if (action == "replay")
        return cfg_.admin->dlq_replay(id, deliver(std::move(respond)));
      if (action == "drop")
        return cfg_.admin->dlq_drop(id, deliver(std::move(respond)));
      return respond(error_response(404, "no such endpoint: " + path));
    }
    if (cfg_.schedules
        && (path == "/api/schedules" || path.starts_with("/api/schedules/"))) {
      if (req.method != "GET")
        return respond(method_not_allowed("GET"));
      std::string_view id{path};
      id.remove_prefix(std::min(id.size(), std::size_t{15}));
      return respond(reply(cfg_.schedules(id)));
    }
    if (path == "/api/runs") {
      if (req.method != "GET")
        return respond(method_not_allowed("GET"));
      return respond(list_runs(req));
    }
    if (path.starts_with("/api/runs/")) {
      std::string_view rest{path};
      rest.remove_prefix(10);
      auto slash = rest.find('/');
      if (slash == std::string_view::npos) {
        if (req.method != "GET")
          return respond(method_not_allowed("GET"));
        return respond(get_run(std::string{rest}));
      }
      auto action = rest.substr(slash + 1);
      auto id = rest.substr(0, slash);
      if (cfg_.admin == nullptr
          || (action != "wake" && action != "cancel" && action != "wake-me"))
        return respond(error_response(404, "no such endpoint: " + path));
      if (req.method != "POST")
        return respond(method_not_allowed("POST"));
      if (action == "wake-me")
        return wake_me(req, id, std::move(respond));
      if (action == "wake")
        return cfg_.admin->run_wake(id, deliver(std::move(respond)));
      return cfg_.admin->run_cancel(id, deliver(std::move(respond)));
    }
    if (cfg_.bench_control && path == "/api/_bench/accept")
      return respond(bench_accept(req));
    respond(error_response(404, "no such endpoint: " + path));
  }

private:
  static http::response reply(admin_reply r) {
    return json_response(r.status, std::move(r.body));
  }

  static admin_done deliver(http::responder respond) {
    return [respond = std::move(respond)](admin_reply r) {
      respond(reply(std::move(r)));
    };
  }

  void triggers(http::request&& req, http::responder respond) {
    auto& admin = *cfg_.admin;
    std::string_view rest{req.path};
    rest.remove_prefix(std::string_view{"/api/triggers"}.size());
    if (rest.empty() || rest == "/") {
      if (req.method == "GET")
        return respond(reply(admin.list_triggers()));
      if (req.method == "POST")
        return admin.put_trigger(req.body, "", deliver(std::move(respond)));
      return respond(method_not_allowed("GET, POST"));
    }
    rest.remove_prefix(1);
    auto slash = rest.find('/');
    auto name = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
      auto action = rest.substr(slash + 1);
      if (action == "budget") {
        if (req.method != "GET")
          return respond(method_not_allowed("GET"));
        return admin.budget_spent(name, deliver(std::move(respond)));
      }
      if (action != "enable" && action != "disable" && action != "resume")
        return respond(error_response(404, "no such endpoint: " + req.path));
      if (req.method != "POST")
        return respond(method_not_allowed("POST"));
      if (action == "resume")
        return resume(name, req.body, std::move(respond));
      return admin.set_enabled(name, action == "enable",
                               deliver(std::move(respond)));
    }
    if (req.method == "GET")
      return respond(reply(admin.get_trigger(name)));
    if (req.method == "PUT")
      return admin.put_trigger(req.body, name, deliver(std::move(respond)));
    if (req.method == "DELETE")
      return admin.delete_trigger(name, deliver(std::move(respond)));
    respond(method_not_allowed("GET, PUT, DELETE"));
  }

  // POST /api/triggers/{name}/resume with no body (every budget key) or
  // {"key": "..."} (one key).
  void resume(std::string_view name, const std::string& body,
              http::responder respond) {
    std::optional<std::string> key;
    if (body.find_first_not_of(" \t\r\n") != std::string::npos) {
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      simdjson::dom::object obj;
      std::string_view k;
      if (parser.parse(body).get(doc) != simdjson::SUCCESS
          || doc.get_object().get(obj) != simdjson::SUCCESS || obj.size() != 1
          || obj["key"].get_string().get(k) != simdjson::SUCCESS)
        return respond(error_response(400,
                                      "expected no body (every budget key) or "
                                      "{\"key\": \"...\"}"));
      key = std::string{k};
    }
    cfg_.admin->resume_budget(name, std::move(key),
                              deliver(std::move(respond)));
  }

  bool authorized(const http::request& req) const {
    auto* h = req.find_header("Authorization");
    if (h == nullptr || !h->starts_with("Bearer "))
      return false;
    return constant_time_equal(std::string_view{*h}.substr(7), cfg_.token);
  }

  static http::response method_not_allowed(std::string_view allow) {
    auto r = error_response(405, "method not allowed");
    r.headers.push_back({"Allow", std::string{allow}});
    return r;
  }

  http::response healthz() const {
    json::object_writer w;
    w.field("status", "ok")
        .field("last_seq", cfg_.db->last_seq())
        .field("journal_backlog",
               static_cast<uint64_t>(cfg_.journal->backlog()));
    return json_response(200, w.finish());
  }

  void reject(http::responder& respond, int status, std::string_view reason,
              std::string_view message) {
    cfg_.metrics->events_rejected.inc(metrics::label("reason", reason));
    respond(error_response(status, message));
  }

  // POST /api/runs/{id}/wake-me {"in": "5m", "state": ...}: only the run's
  // own process (its Rouse-Run-Token) may ask.
  void wake_me(const http::request& req, std::string_view id,
               http::responder respond) {
    const auto* token = req.find_header("Rouse-Run-Token");
    std::optional<std::string> run_id;
    if (token != nullptr && cfg_.tokens != nullptr)
      run_id = cfg_.tokens->verify(*token);
    if (!run_id || *run_id != id)
      return respond(error_response(401, "wake-me needs the run's own "
                                         "Rouse-Run-Token ($ROUSE_RUN_TOKEN)"));
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::object obj;
    if (parser.parse(req.body).get(doc) != simdjson::SUCCESS
        || doc.get_object().get(obj) != simdjson::SUCCESS)
      return respond(error_response(400, "body must be a JSON object such as "
                                         "{\"in\": \"5m\"}"));
    std::string_view in;
    std::string state;
    for (auto [key, value] : obj) {
      if (key == "in" && value.get_string().get(in) == simdjson::SUCCESS)
        continue;
      if (key == "state") {
        state = simdjson::minify(value);
        continue;
      }
      return respond(error_response(400, "unknown or malformed key \""
                                             + std::string{key}
                                             + "\" (expected in, state)"));
    }
    auto d = config::parse_duration(in);
    if (in.empty() || !d)
      return respond(
          error_response(400, "\"in\" must be a duration such as \"5m\""));
    auto due =
        wall_clock_ns()
        + std::chrono::duration_cast<std::chrono::nanoseconds>(*d).count();
    cfg_.admin->run_wake_me(id, due, std::move(state),
                            deliver(std::move(respond)));
  }

  void ingest(http::request&& req, http::responder respond) {
    json::decode_options opts;
    opts.max_events = cfg_.max_batch_events;
    auto events = json::decode_events(req.body, opts);
    if (!events) {
      auto too_large = is(events.error(), errc::too_large);
      return reject(respond, too_large ? 413 : 400,
                    too_large ? "too_large" : "malformed",
                    describe(events.error()));
    }
    for (const auto& ev : *events)
      if (ev.id.size() + ev.source.size() > store::max_id_and_source_bytes)
        return reject(respond, 400, "malformed",
                      "event " + json::quote(ev.id.substr(0, 64))
                          + ": id and source together are longer than "
                          + std::to_string(store::max_id_and_source_bytes)
                          + " bytes");
    if (cfg_.journal->overloaded()) {
      cfg_.metrics->events_rejected.inc(metrics::label("reason", "overloaded"));
      auto r =
          error_response(503, "overloaded: " + cfg_.journal->overload_reason()
                                  + "; retry later");
      r.headers.push_back(
          {"Retry-After", std::to_string(cfg_.retry_after_seconds)});
      return respond(std::move(r));
    }
    for (auto& ev : *events)
      ev.received_by = "api";
    if (const auto* token = req.find_header("Rouse-Run-Token")) {
      // An event emitted by a run: one step deeper than the run's event.
      std::optional<std::string> run_id;
      if (cfg_.tokens != nullptr)
        run_id = cfg_.tokens->verify(*token);
      auto run = run_id ? cfg_.db->get_run(*run_id)
                        : caf::expected<std::optional<run_record>>{
                            std::optional<run_record>{}};
      if (!run)
        return respond(error_response(500, describe(run.error())));
      if (!*run)
        return reject(respond, 401, "bad_run_token",
                      "Rouse-Run-Token is not the token of a run of this "
                      "server (tokens end when the server restarts)");
      auto parent = cfg_.db->get_event((*run)->event_seq);
      if (!parent)
        return respond(error_response(500, describe(parent.error())));
      for (auto& ev : *events) {
        ev.received_by = emitted_by((*run)->trigger);
        ev.depth = *parent ? (*parent)->depth + 1 : 1;
        ev.cause = *parent ? (*parent)->id : (*run)->event_id;
      }
    }
    store::append_op op;
    op.events = std::move(*events);
    op.done = answer_append(std::move(respond), received_, duplicates_,
                            cfg_.retry_after_seconds);
    cfg_.journal->submit(std::move(op));
  }

  http::response bench_accept(const http::request& req) {
    json::decode_options opts;
    opts.max_events = cfg_.max_batch_events;
    auto events = json::decode_events(req.body, opts);
    if (!events)
      return error_response(400, describe(events.error()));
    json::array_writer items;
    for (const auto& ev : *events) {
      json::object_writer w;
      w.field("id", ev.id).field("seq", uint64_t{0}).field("duplicate", false);
      items.raw(w.finish());
    }
    json::object_writer body;
    body.raw("events", items.finish());
    return json_response(202, body.finish());
  }

  http::response get_event(const http::request& req, std::string id) {
    auto found = cfg_.db->find_events(id);
    if (!found)
      return error_response(500, describe(found.error()));
    auto* source = req.find_query("source");
    for (auto i = found->rbegin(); i != found->rend(); ++i)
      if (source == nullptr || i->source == *source)
        return json_response(200, json::encode_stored_event(*i));
    return error_response(404, "no event with id " + json::quote(id));
  }

  http::response list_events(const http::request& req) {
    auto after = parse_u64(req.find_query("after")).value_or(0);
    auto limit = std::min<uint64_t>(
        parse_u64(req.find_query("limit")).value_or(100), 1000);
    auto events = cfg_.db->read_events(after + 1, limit);
    if (!events)
      return error_response(500, describe(events.error()));
    json::array_writer items;
    for (const auto& ev : *events)
      items.raw(json::encode_stored_event(ev));
    json::object_writer body;
    body.raw("events", items.finish());
    return json_response(200, body.finish());
  }

  http::response list_runs(const http::request& req,
                           std::optional<run_state> only = std::nullopt) {
    store::run_filter filter;
    filter.state = only;
    if (auto* t = req.find_query("trigger"))
      filter.trigger = *t;
    if (auto* s = req.find_query("state");
        !only && s != nullptr && !s->empty()) {
      auto state = parse_run_state(*s);
      if (!state)
        return error_response(400,
                              "unknown run state " + json::quote(*s)
                                  + " (pending, running, succeeded, failed, "
                                    "retrying, dead, waiting)");
      filter.state = state;
    }
    if (auto* l = req.find_query("limit")) {
      auto n = parse_u64(l);
      if (!n || *n == 0)
        return error_response(400, "limit must be a positive integer");
      filter.limit = std::min<uint64_t>(*n, 10000);
    }
    auto runs = cfg_.db->list_runs(filter);
    if (!runs)
      return error_response(500, describe(runs.error()));
    json::array_writer items;
    for (const auto& run : *runs)
      items.raw(render_run(run, false));
    json::object_writer body;
    body.raw("runs", items.finish());
    return json_response(200, body.finish());
  }

  http::response get_run(const std::string& id) {
    auto run = cfg_.db->get_run(id);
    if (!run)
      return error_response(500, describe(run.error()));
    if (!*run)
      return error_response(404, "no run with id " + json::quote(id));
    return json_response(200, render_run(**run, true));
  }

  api_config cfg_;
  std::atomic<uint64_t>* received_ = nullptr;
  std::atomic<uint64_t>* duplicates_ = nullptr;
};

} // namespace

int status_for(const caf::error& err) {
  if (is(err, errc::storage_full))
    return 507;
  if (is(err, errc::shutting_down) || is(err, errc::overloaded))
    return 503;
  if (is(err, errc::invalid_input))
    return 400;
  if (is(err, errc::too_large))
    return 413;
  return 500;
}

admin_reply error_reply(int status, std::string_view message) {
  return {status, error_response(status, message).body};
}

std::function<void(caf::expected<std::vector<store::append_outcome>>)>
answer_append(http::responder respond, std::atomic<uint64_t>* received,
              std::atomic<uint64_t>* duplicates, uint32_t retry_after_seconds) {
  return [respond = std::move(respond), received, duplicates,
          retry_after_seconds](
             caf::expected<std::vector<store::append_outcome>> result) {
    if (!result) {
      auto r =
          error_response(status_for(result.error()), describe(result.error()));
      if (r.status == 503 || r.status == 507)
        r.headers.push_back(
            {"Retry-After", std::to_string(retry_after_seconds)});
      return respond(std::move(r));
    }
    json::array_writer items;
    uint64_t fresh = 0;
    for (const auto& o : *result) {
      json::object_writer w;
      w.field("id", o.id).field("seq", o.seq).field("duplicate", o.duplicate);
      items.raw(w.finish());
      if (!o.duplicate)
        ++fresh;
    }
    received->fetch_add(fresh, std::memory_order_relaxed);
    duplicates->fetch_add(result->size() - fresh, std::memory_order_relaxed);
    json::object_writer body;
    body.raw("events", items.finish());
    respond(json_response(fresh > 0 ? 202 : 200, body.finish()));
  };
}

http::handler make_api_handler(api_config cfg) {
  auto impl = std::make_shared<api>(std::move(cfg));
  return [impl](http::request&& req, http::responder respond) {
    impl->handle(std::move(req), std::move(respond));
  };
}

} // namespace rouse::api
