// Counter families, histograms and the exposition-format renderer.
#include "runtime/metrics/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace rouse::metrics {

namespace {

std::string format_double(double x) {
  if (std::isinf(x))
    return x > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", x);
  return buf;
}

void header(std::string& out, const std::string& name, const std::string& help,
            const char* type) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

} // namespace

std::string label(std::string_view name, std::string_view value) {
  std::string out{name};
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

std::atomic<uint64_t>& counter_family::with(const std::string& labels) {
  std::lock_guard<std::mutex> guard{mx_};
  auto& slot = values_[labels];
  if (!slot)
    slot = std::make_unique<std::atomic<uint64_t>>(0);
  return *slot;
}

void counter_family::render(std::string& out) const {
  header(out, name_, help_, "counter");
  std::lock_guard<std::mutex> guard{mx_};
  for (const auto& [labels, value] : values_) {
    out += name_;
    if (!labels.empty())
      out += "{" + labels + "}";
    out += " " + std::to_string(value->load()) + "\n";
  }
}

histogram::histogram(std::string name, std::string help,
                     std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)),
      bounds_(std::move(bounds)),
      buckets_(new std::atomic<uint64_t>[bounds_.size()]) {
  for (size_t i = 0; i < bounds_.size(); ++i)
    buckets_[i].store(0);
}

void histogram::observe(double value) {
  for (size_t i = 0; i < bounds_.size(); ++i)
    if (value <= bounds_[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  count_.fetch_add(1, std::memory_order_relaxed);
  if (value > 0)
    sum_micros_.fetch_add(static_cast<uint64_t>(value * 1e6),
                          std::memory_order_relaxed);
}

void histogram::render(std::string& out) const {
  header(out, name_, help_, "histogram");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load();
    out += name_ + "_bucket{le=\"" + format_double(bounds_[i]) + "\"} "
           + std::to_string(cumulative) + "\n";
  }
  auto total = count_.load();
  out += name_ + "_bucket{le=\"+Inf\"} " + std::to_string(total) + "\n";
  out += name_ + "_sum " + format_double(sum_micros_.load() / 1e6) + "\n";
  out += name_ + "_count " + std::to_string(total) + "\n";
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
}

registry::registry()
    : events_received("rouse_events_received_total",
                      "Events accepted and stored, by receiving source."),
      events_duplicate("rouse_events_duplicate_total",
                       "Events recognised as duplicates and not stored again."),
      events_rejected("rouse_events_rejected_total",
                      "Requests rejected before storage, by reason."),
      runs_started("rouse_runs_started_total",
                   "Handler executions started, by trigger."),
      runs_finished("rouse_runs_finished_total",
                    "Handler executions finished, by trigger and outcome."),
      webhook_rejected("rouse_webhook_rejected_total",
                       "Webhook requests rejected before storage, by source "
                       "and reason."),
      journal_commit_seconds("rouse_journal_commit_seconds",
                             "Duration of journal write transactions.",
                             latency_buckets()),
      event_to_run_seconds("rouse_event_to_run_seconds",
                           "Time from an event's commit to its run's start.",
                           latency_buckets()) {}

void registry::add_gauge(std::string name, std::string help,
                         std::function<double()> read) {
  std::lock_guard<std::mutex> guard{gauges_mx_};
  gauges_.push_back({std::move(name), std::move(help), std::move(read)});
}

std::string registry::render() const {
  std::string out;
  out.reserve(4096);
  events_received.render(out);
  events_duplicate.render(out);
  events_rejected.render(out);
  runs_started.render(out);
  runs_finished.render(out);
  webhook_rejected.render(out);
  journal_commit_seconds.render(out);
  event_to_run_seconds.render(out);
  std::lock_guard<std::mutex> guard{gauges_mx_};
  for (const auto& g : gauges_) {
    header(out, g.name, g.help, "gauge");
    out += g.name + " " + format_double(g.read()) + "\n";
  }
  return out;
}

} // namespace rouse::metrics
