// Tests metric families and the Prometheus text format.
#include "runtime/metrics/metrics.hpp"

#include <catch2/catch.hpp>

using namespace rouse;

TEST_CASE("metrics: counters and histograms render in exposition format",
          "[runtime][metrics]") {
  metrics::registry reg;
  reg.events_received.inc(metrics::label("source", "git\"hub"), 3);
  reg.runs_finished.inc(metrics::label("trigger", "a") + ","
                        + metrics::label("outcome", "succeeded"));
  reg.journal_commit_seconds.observe(0.0004);
  reg.journal_commit_seconds.observe(2);
  reg.add_gauge("rouse_journal_backlog", "Queued journal operations.",
                [] { return 7.0; });
  auto text = reg.render();
  CHECK(text.find("rouse_events_received_total{source=\"git\\\"hub\"} 3\n")
        != std::string::npos);
  CHECK(
      text.find(
          "rouse_runs_finished_total{trigger=\"a\",outcome=\"succeeded\"} 1\n")
      != std::string::npos);
  CHECK(text.find("rouse_journal_commit_seconds_bucket{le=\"0.0005\"} 1\n")
        != std::string::npos);
  CHECK(text.find("rouse_journal_commit_seconds_bucket{le=\"+Inf\"} 2\n")
        != std::string::npos);
  CHECK(text.find("rouse_journal_commit_seconds_count 2\n")
        != std::string::npos);
  CHECK(
      text.find("# TYPE rouse_journal_backlog gauge\nrouse_journal_backlog 7\n")
      != std::string::npos);
}
