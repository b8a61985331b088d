// Client subcommands (`emit`, `runs`, `dlq`, `wake-me`): talk to a running
// server over its HTTP API and print human-readable output, or the server's
// JSON with --json. Also the request helpers of cli_client.hpp.
#include "runtime/daemon/cli_client.hpp"

#include "messages/run.hpp"
#include "runtime/config/config.hpp"
#include "runtime/http/client.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"

#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace rouse::cli {

namespace {

bool parse_url(const std::string& url, server_target& out) {
  std::string rest = url;
  if (rest.starts_with("http://"))
    rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos) {
    std::cerr << "rouse: only http:// server URLs are supported: " << url
              << "\n";
    return false;
  }
  if (auto slash = rest.find('/'); slash != std::string::npos)
    rest = rest.substr(0, slash);
  std::string host = rest;
  std::string port = "7700";
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string::npos) {
      std::cerr << "rouse: bad server URL: " << url << "\n";
      return false;
    }
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':')
      port = rest.substr(close + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  char* end = nullptr;
  auto p = std::strtoul(port.c_str(), &end, 10);
  if (host.empty() || port.empty() || *end != '\0' || p == 0 || p > 65535) {
    std::cerr << "rouse: bad server URL: " << url << "\n";
    return false;
  }
  out.host = host;
  out.port = static_cast<uint16_t>(p);
  return true;
}

} // namespace

namespace detail {

bool read_input(const std::string& path, std::string& out) {
  if (path == "-") {
    std::ostringstream buf;
    buf << std::cin.rdbuf();
    out = buf.str();
    return true;
  }
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    std::cerr << "rouse: cannot read " << path << "\n";
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

std::optional<http::response> call(const server_target& target,
                                   http::client_request req) {
  if (!target.token.empty())
    req.headers.push_back({"Authorization", "Bearer " + target.token});
  auto r = http::fetch(target.host, target.port, req);
  if (!r) {
    std::cerr
        << "rouse: " << describe(r.error())
        << " (is `rouse serve` running? use --server to point elsewhere)\n";
    return std::nullopt;
  }
  return std::move(*r);
}

int report_error(const http::response& r) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view message;
  if (parser.parse(r.body).get(doc) == simdjson::SUCCESS
      && doc["error"].get_string().get(message) == simdjson::SUCCESS)
    std::cerr << "rouse: server answered " << r.status << ": " << message
              << "\n";
  else
    std::cerr << "rouse: server answered " << r.status << ": " << r.body
              << "\n";
  return r.status == 400 || r.status == 413 || r.status == 404 ? 2 : 1;
}

std::string get_string(simdjson::dom::element e, const char* key) {
  std::string_view s;
  if (e[key].get_string().get(s) == simdjson::SUCCESS)
    return std::string{s};
  int64_t n = 0;
  if (e[key].get_int64().get(n) == simdjson::SUCCESS)
    return std::to_string(n);
  double x = 0;
  if (e[key].get_double().get(x) == simdjson::SUCCESS) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
  }
  return {};
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
        || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

int post_action(const server_target& target, http::client_request req,
                bool json, const std::string& done_line) {
  req.method = "POST";
  auto r = call(target, std::move(req));
  if (!r)
    return 1;
  if (r->status != 200)
    return report_error(*r);
  std::cout << (json ? r->body : done_line) << "\n";
  return 0;
}

std::optional<int> get_document(const server_target& target,
                                http::client_request req, bool json,
                                simdjson::dom::parser& parser,
                                simdjson::dom::element& doc) {
  auto r = call(target, std::move(req));
  if (!r)
    return 1;
  if (r->status != 200)
    return report_error(*r);
  if (json) {
    std::cout << r->body << "\n";
    return 0;
  }
  if (parser.parse(r->body).get(doc) != simdjson::SUCCESS) {
    std::cerr << "rouse: the server's answer is not JSON\n";
    return 1;
  }
  return std::nullopt;
}

} // namespace detail

using namespace detail;

bool resolve_server(const std::string& server_url,
                    const std::string& config_path, server_target& out) {
  if (!config_path.empty()) {
    auto result = config::load_file(config_path);
    for (const auto& d : result.errors)
      std::cerr << d.to_string() << "\n";
    if (!result.ok())
      return false;
    const auto& node = result.cfg->node;
    out.host = node.listen_host == "0.0.0.0" ? "127.0.0.1"
               : node.listen_host == "::"    ? "::1"
                                             : node.listen_host;
    out.port = node.listen_port;
    out.token = node.api_token;
  }
  if (!server_url.empty())
    return parse_url(server_url, out);
  if (const char* env = std::getenv("ROUSE_API");
      env != nullptr && *env != '\0' && config_path.empty())
    if (!parse_url(env, out))
      return false;
  if (const char* tok = std::getenv("ROUSE_TOKEN");
      tok != nullptr && *tok != '\0')
    out.token = tok;
  return true;
}

int emit(const server_target& target, const emit_args& args) {
  std::string data = args.data;
  if (data.starts_with("@")) {
    std::ifstream in{data.substr(1), std::ios::binary};
    if (!in) {
      std::cerr << "rouse: cannot read " << data.substr(1) << "\n";
      return 2;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    data = buf.str();
  }
  if (!data.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (auto code = parser.parse(data).get(doc); code != simdjson::SUCCESS) {
      std::cerr << "rouse: --data is not valid JSON: "
                << simdjson::error_message(code) << "\n";
      return 2;
    }
  }
  json::object_writer w;
  w.field("specversion", "1.0")
      .field("id", args.id.empty() ? json::random_hex_id() : args.id)
      .field("source", args.source)
      .field("type", args.type);
  if (!args.subject.empty())
    w.field("subject", args.subject);
  if (!data.empty())
    w.field("datacontenttype", "application/json").raw("data", data);
  http::client_request req;
  req.method = "POST";
  req.target = "/api/events";
  req.body = w.finish();
  // Inside a run: the event carries causation from the run's event, so the
  // server can cut loops (node.max_depth).
  if (const char* token = std::getenv("ROUSE_RUN_TOKEN");
      token != nullptr && *token != '\0')
    req.headers.push_back({"Rouse-Run-Token", token});
  auto r = call(target, std::move(req));
  if (!r)
    return 1;
  if (r->status != 200 && r->status != 202)
    return report_error(*r);
  if (args.json) {
    std::cout << r->body << "\n";
    return 0;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array events;
  if (parser.parse(r->body).get(doc) == simdjson::SUCCESS
      && doc["events"].get_array().get(events) == simdjson::SUCCESS)
    for (auto ev : events) {
      bool dup = false;
      if (ev["duplicate"].get_bool().get(dup) != simdjson::SUCCESS)
        dup = false;
      std::cout << (dup ? "duplicate of event " : "stored event ")
                << get_string(ev, "id") << " (seq " << get_string(ev, "seq")
                << ")\n";
    }
  return 0;
}

int runs(const server_target& target, const runs_args& args) {
  http::client_request req;
  if (!args.action.empty()) {
    req.target = "/api/runs/" + url_encode(args.run_id) + "/" + args.action;
    return post_action(target, std::move(req), args.json,
                       (args.action == "wake" ? "woke run " : "cancelled run ")
                           + args.run_id);
  }
  if (!args.run_id.empty()) {
    req.target = "/api/runs/" + args.run_id;
  } else {
    req.target = "/api/runs?limit=" + std::to_string(args.limit);
    if (!args.trigger.empty())
      req.target += "&trigger=" + args.trigger;
    if (!args.state.empty()) {
      if (!parse_run_state(args.state)) {
        std::cerr << "rouse: unknown state \"" << args.state
                  << "\" (pending, running, succeeded, failed, retrying, dead, "
                     "waiting, cancelled)\n";
        return 2;
      }
      req.target += "&state=" + args.state;
    }
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto done = get_document(target, std::move(req), args.json, parser, doc))
    return *done;
  if (!args.run_id.empty()) {
    for (const char* key :
         {"id", "trigger", "event_id", "event_type", "state", "attempt",
          "exit_code", "error", "created_at", "started_at", "finished_at"}) {
      auto v = get_string(doc, key);
      if (!v.empty())
        std::printf("%-12s %s\n", key, v.c_str());
    }
    simdjson::dom::object wait;
    if (doc["wait"].get_object().get(wait) == simdjson::SUCCESS)
      std::printf("%-12s %s\n", "wait", simdjson::minify(wait).c_str());
    simdjson::dom::array history;
    if (doc["history"].get_array().get(history) == simdjson::SUCCESS) {
      std::printf("history\n");
      for (auto h : history)
        std::printf("  %s  %-10s %s\n", get_string(h, "at").c_str(),
                    get_string(h, "state").c_str(),
                    get_string(h, "note").c_str());
    }
    for (const char* key : {"stdout", "stderr"}) {
      auto v = get_string(doc, key);
      if (!v.empty())
        std::printf("--- %s\n%s%s", key, v.c_str(),
                    v.ends_with('\n') ? "" : "\n");
    }
    return 0;
  }
  simdjson::dom::array list;
  if (doc["runs"].get_array().get(list) != simdjson::SUCCESS) {
    std::cerr << "rouse: unexpected answer: " << simdjson::minify(doc) << "\n";
    return 1;
  }
  std::printf("%-36s %-20s %-10s %7s %5s  %s\n", "RUN", "TRIGGER", "STATE",
              "ATTEMPT", "EXIT", "CREATED");
  for (auto run : list)
    std::printf(
        "%-36s %-20s %-10s %7s %5s  %s\n", get_string(run, "id").c_str(),
        get_string(run, "trigger").c_str(), get_string(run, "state").c_str(),
        get_string(run, "attempt").c_str(),
        get_string(run, "exit_code").c_str(),
        get_string(run, "created_at").c_str());
  return 0;
}

int dlq(const server_target& target, const dlq_args& args) {
  if (args.command == "ls" || args.command == "show") {
    // The dead-letter queue is the runs in state dead.
    runs_args ra;
    ra.state = "dead";
    ra.limit = args.limit;
    ra.json = args.json;
    ra.run_id = args.run_id;
    return runs(target, ra);
  }
  http::client_request req;
  req.target = "/api/dlq/" + url_encode(args.run_id) + "/" + args.command;
  return post_action(
      target, std::move(req), args.json,
      (args.command == "replay" ? "replayed run " : "dropped run ")
          + args.run_id);
}

int wake_me(const server_target& target, const wake_me_args& args) {
  const char* run_id = std::getenv("ROUSE_RUN_ID");
  const char* token = std::getenv("ROUSE_RUN_TOKEN");
  if (run_id == nullptr || token == nullptr || *run_id == '\0') {
    std::cerr << "rouse: wake-me works only inside a run (ROUSE_RUN_ID and "
                 "ROUSE_RUN_TOKEN are not set)\n";
    return 2;
  }
  json::object_writer w;
  w.field("in", args.in);
  if (!args.state.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(args.state).get(doc) != simdjson::SUCCESS) {
      std::cerr << "rouse: --state is not valid JSON\n";
      return 2;
    }
    w.raw("state", args.state);
  }
  http::client_request req;
  req.target = "/api/runs/" + url_encode(run_id) + "/wake-me";
  req.body = w.finish();
  req.headers.push_back({"Rouse-Run-Token", token});
  return post_action(target, std::move(req), false,
                     "run " + std::string{run_id} + " sleeps for " + args.in
                         + " after this attempt");
}

} // namespace rouse::cli
