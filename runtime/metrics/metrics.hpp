// Prometheus metrics: counter families keyed by a label set, fixed-bucket
// histograms, gauges read at scrape time, and the text exposition format for
// GET /metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::metrics {

/// Returns `name="value"` with the value escaped for the exposition format.
std::string label(std::string_view name, std::string_view value);

/// A counter family: one monotonically increasing counter per label set.
/// Thread safety: all members may be called from any thread. The counter
/// returned by with() stays valid for the family's lifetime, so hot paths can
/// cache it.
class counter_family {
public:
  counter_family(std::string name, std::string help)
      : name_(std::move(name)), help_(std::move(help)) {}

  /// Returns the counter for `labels` (e.g. `source="github"`), creating it at
  /// 0.
  std::atomic<uint64_t>& with(const std::string& labels);

  void inc(const std::string& labels, uint64_t n = 1) {
    with(labels).fetch_add(n, std::memory_order_relaxed);
  }

  void render(std::string& out) const;

private:
  std::string name_;
  std::string help_;
  mutable std::mutex mx_;
  std::map<std::string, std::unique_ptr<std::atomic<uint64_t>>> values_;
};

/// A histogram with fixed upper bounds (seconds, for the timings here).
/// Thread safety: observe() and render() may be called from any thread.
class histogram {
public:
  histogram(std::string name, std::string help, std::vector<double> bounds);

  void observe(double value);
  void render(std::string& out) const;

  uint64_t count() const noexcept { return count_.load(); }

private:
  std::string name_;
  std::string help_;
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

/// Default latency buckets: 100 µs to 60 s.
std::vector<double> latency_buckets();

/// All metrics of one rouse host.
class registry {
public:
  registry();

  counter_family events_received;  // rouse_events_received_total{source}
  counter_family events_duplicate; // rouse_events_duplicate_total{source}
  counter_family events_rejected;  // rouse_events_rejected_total{reason}
  counter_family runs_started;     // rouse_runs_started_total{trigger}
  counter_family runs_finished;    // rouse_runs_finished_total{trigger,outcome}
  counter_family
      webhook_rejected; // rouse_webhook_rejected_total{source,reason}
  histogram journal_commit_seconds; // rouse_journal_commit_seconds
  histogram event_to_run_seconds;   // rouse_event_to_run_seconds

  /// Adds a gauge whose value is read at scrape time.
  void add_gauge(std::string name, std::string help,
                 std::function<double()> read);

  /// Returns every metric in the Prometheus text exposition format 0.0.4.
  std::string render() const;

private:
  struct gauge {
    std::string name, help;
    std::function<double()> read;
  };
  mutable std::mutex gauges_mx_;
  std::vector<gauge> gauges_;
};

} // namespace rouse::metrics
