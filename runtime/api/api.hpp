// The HTTP API of a rouse host: event ingest (the manual source), event and run
// queries, health and metrics. Actor-free: ingest goes straight into the
// journal's queue, and queries are short LMDB reads on the I/O thread.
#pragma once

#include "runtime/http/message.hpp"

#include <cstdint>
#include <string>

namespace rouse::store {
class journal;
class store;
} // namespace rouse::store

namespace rouse::metrics {
class registry;
} // namespace rouse::metrics

namespace rouse::api {

struct api_config {
  /// Must outlive the handler.
  store::store* db = nullptr;
  store::journal* journal = nullptr;
  metrics::registry* metrics = nullptr;
  /// When non-empty, every route but /healthz needs `Authorization: Bearer
  /// <token>`.
  std::string token;
  /// Most events in one POST /api/events batch. Default 1,000.
  std::size_t max_batch_events = 1000;
  /// Seconds a client is told to wait (Retry-After) when the journal is
  /// overloaded.
  uint32_t retry_after_seconds = 1;
  /// Serves POST /api/_bench/accept, which answers like an ingest without
  /// touching the journal: the control in bench/ingest. Off by default.
  bool bench_control = false;
};

/// Returns the request handler for the API routes.
http::handler make_api_handler(api_config cfg);

} // namespace rouse::api
