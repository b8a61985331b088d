// Client subcommands that inspect and manage what a running server holds:
// `triggers` (list, show, apply, enable, delete), `timers` and `explain`. The
// shared request helpers are in cli_client.cpp.
#include "runtime/daemon/cli_client.hpp"

#include "runtime/json/writer.hpp"

#include <simdjson.h>

#include <cstdio>
#include <iostream>

namespace rouse::cli {

using namespace detail;

int triggers(const server_target& target, const triggers_args& args) {
  http::client_request req;
  const auto& cmd = args.command;
  if (cmd == "ls") {
    req.target = "/api/triggers";
  } else if (cmd == "show") {
    req.target = "/api/triggers/" + url_encode(args.name);
  } else if (cmd == "add") {
    if (!read_input(args.file, req.body))
      return 2;
    if (args.replace) {
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      std::string_view name;
      if (parser.parse(req.body).get(doc) != simdjson::SUCCESS
          || doc["name"].get_string().get(name) != simdjson::SUCCESS) {
        std::cerr << "rouse: " << args.file
                  << ": --replace needs a JSON object with a \"name\"\n";
        return 2;
      }
      req.method = "PUT";
      req.target = "/api/triggers/" + url_encode(name);
    } else {
      req.method = "POST";
      req.target = "/api/triggers";
    }
  } else if (cmd == "rm") {
    req.method = "DELETE";
    req.target = "/api/triggers/" + url_encode(args.name);
  } else if (cmd == "enable" || cmd == "disable" || cmd == "resume") {
    req.method = "POST";
    req.target = "/api/triggers/" + url_encode(args.name) + "/" + cmd;
    if (cmd == "resume" && args.has_key) {
      json::object_writer w;
      w.field("key", args.key);
      req.body = w.finish();
    }
  } else if (cmd == "budget") {
    req.target = "/api/triggers/" + url_encode(args.name) + "/budget";
  } else {
    std::cerr << "rouse: unknown triggers command " << cmd << "\n";
    return 2;
  }
  auto r = call(target, std::move(req));
  if (!r)
    return 1;
  if (r->status != 200 && r->status != 201)
    return report_error(*r);
  if (args.json || cmd == "show") {
    std::cout << r->body << "\n";
    return 0;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(r->body).get(doc) != simdjson::SUCCESS) {
    std::cerr << "rouse: the server's answer is not JSON\n";
    return 1;
  }
  if (cmd == "ls") {
    simdjson::dom::array list;
    if (doc["triggers"].get_array().get(list) != simdjson::SUCCESS) {
      std::cerr << "rouse: unexpected answer: " << r->body << "\n";
      return 1;
    }
    std::printf("%-24s %-7s %-8s %s\n", "TRIGGER", "ORIGIN", "ENABLED", "ON");
    for (auto t : list) {
      bool enabled = true;
      if (t["enabled"].get_bool().get(enabled) != simdjson::SUCCESS)
        enabled = true;
      simdjson::dom::element on;
      std::string on_text;
      if (t["on"].get(on) == simdjson::SUCCESS)
        on_text = simdjson::minify(on);
      std::printf("%-24s %-7s %-8s %s\n", get_string(t, "name").c_str(),
                  get_string(t, "origin").c_str(), enabled ? "yes" : "no",
                  on_text.c_str());
    }
    return 0;
  }
  if (cmd == "rm") {
    std::cout << "removed trigger " << args.name << "\n";
    return 0;
  }
  if (cmd == "resume") {
    simdjson::dom::array keys;
    std::size_t n = 0;
    if (doc["resumed"].get_array().get(keys) == simdjson::SUCCESS)
      n = keys.size();
    std::cout << "resumed trigger " << args.name << ": " << n
              << (n == 1 ? " budget key" : " budget keys")
              << " start over in this window\n";
    return 0;
  }
  if (cmd == "budget") {
    std::printf("window %s .. %s\n", get_string(doc, "window_start").c_str(),
                get_string(doc, "window_end").c_str());
    std::printf("%-32s %8s %12s %s\n", "KEY", "RUNS", "COST", "SPENT");
    simdjson::dom::array keys;
    if (doc["keys"].get_array().get(keys) == simdjson::SUCCESS)
      for (auto k : keys) {
        bool spent = false;
        if (k["spent"].get_bool().get(spent) != simdjson::SUCCESS)
          spent = false;
        auto key = get_string(k, "key");
        std::printf("%-32s %8s %12s %s\n", key.empty() ? "-" : key.c_str(),
                    get_string(k, "runs").c_str(),
                    get_string(k, "cost").c_str(), spent ? "yes" : "no");
      }
    return 0;
  }
  auto name = get_string(doc, "name");
  if (cmd == "add")
    std::cout << (r->status == 201 ? "added trigger " : "replaced trigger ")
              << name << "\n";
  else
    std::cout << cmd << "d trigger " << name << "\n";
  return 0;
}

int timers(const server_target& target, const timers_args& args) {
  http::client_request req;
  req.target = "/api/schedules";
  if (!args.id.empty())
    req.target += "/" + url_encode(args.id);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto done = get_document(target, std::move(req), args.json, parser, doc))
    return *done;
  auto first_next = [](simdjson::dom::element s) {
    simdjson::dom::array next;
    std::string_view t;
    if (s["next"].get_array().get(next) == simdjson::SUCCESS && next.size() > 0
        && next.at(0).get_string().get(t) == simdjson::SUCCESS)
      return std::string{t};
    return std::string{"-"};
  };
  if (args.id.empty()) {
    simdjson::dom::array all;
    if (doc["schedules"].get_array().get(all) != simdjson::SUCCESS) {
      std::cerr << "rouse: the server's answer has no schedules\n";
      return 1;
    }
    std::printf("%-20s %-18s %-16s %-26s %6s %6s %6s\n", "SCHEDULE",
                "EXPRESSION", "TIMEZONE", "NEXT", "FIRED", "SKIP", "MISSED");
    for (auto s : all)
      std::printf(
          "%-20s %-18s %-16s %-26s %6s %6s %6s\n", get_string(s, "id").c_str(),
          get_string(s, "schedule").c_str(), get_string(s, "timezone").c_str(),
          first_next(s).c_str(), get_string(s, "fired").c_str(),
          get_string(s, "skipped").c_str(), get_string(s, "missed").c_str());
    if (all.size() == 0)
      std::printf("(no cron sources configured)\n");
    return 0;
  }
  for (const char* key :
       {"id", "schedule", "timezone", "type", "overlap", "catchup",
        "catchup_window", "jitter", "dst_repeated", "dst_skipped",
        "decided_through", "fired", "skipped", "missed"}) {
    auto v = get_string(doc, key);
    if (!v.empty())
      std::printf("%-16s %s\n", key, v.c_str());
  }
  simdjson::dom::array list;
  if (doc["next"].get_array().get(list) == simdjson::SUCCESS) {
    std::printf("next\n");
    for (auto n : list) {
      std::string_view t;
      if (n.get_string().get(t) == simdjson::SUCCESS)
        std::printf("  %.*s\n", static_cast<int>(t.size()), t.data());
    }
  }
  if (doc["ticks"].get_array().get(list) == simdjson::SUCCESS) {
    std::printf("ticks (newest first)\n");
    for (auto t : list)
      std::printf(
          "  %-26s %-16s late %sms%s%s\n", get_string(t, "nominal").c_str(),
          get_string(t, "outcome").c_str(), get_string(t, "late_ms").c_str(),
          get_string(t, "event_seq").empty() ? "" : "  event seq ",
          get_string(t, "event_seq").c_str());
  }
  return 0;
}

int explain(const server_target& target, const explain_args& args) {
  http::client_request req;
  req.target = "/api/events/" + url_encode(args.event_id) + "/explain";
  if (!args.source.empty())
    req.target += "?source=" + url_encode(args.source);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto done = get_document(target, std::move(req), args.json, parser, doc))
    return *done;
  simdjson::dom::array events;
  if (doc["events"].get_array().get(events) != simdjson::SUCCESS) {
    std::cerr << "rouse: unexpected answer: " << simdjson::minify(doc) << "\n";
    return 1;
  }
  for (auto ev : events) {
    std::printf("event %s (source %s, type %s, seq %s)\n",
                get_string(ev, "id").c_str(), get_string(ev, "source").c_str(),
                get_string(ev, "type").c_str(), get_string(ev, "seq").c_str());
    simdjson::dom::array list;
    if (ev["triggers"].get_array().get(list) != simdjson::SUCCESS)
      continue;
    if (list.size() == 0)
      std::printf("  (no triggers)\n");
    for (auto t : list) {
      bool matched = false;
      if (t["matched"].get_bool().get(matched) != simdjson::SUCCESS)
        matched = false;
      simdjson::dom::element run;
      std::string what;
      if (t["run"].get(run) == simdjson::SUCCESS)
        what = "run " + get_string(run, "id") + " " + get_string(run, "state");
      else
        what = get_string(t, "reason");
      std::printf("  %-24s %-9s %s\n", get_string(t, "trigger").c_str(),
                  matched ? "matched" : "no match", what.c_str());
    }
  }
  return 0;
}

} // namespace rouse::cli
