// The HTTP API of a rouse host: event ingest (the manual source), event and run
// queries, health and metrics. Actor-free: ingest goes straight into the
// journal's queue, and queries are short LMDB reads on the I/O thread.
#pragma once

#include "runtime/api/run_token.hpp"
#include "runtime/http/message.hpp"
#include "runtime/store/journal.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace rouse::store {
class journal;
class store;
} // namespace rouse::store

namespace rouse::metrics {
class registry;
} // namespace rouse::metrics

namespace rouse::api {

/// The answer to an admin request: an HTTP status and a JSON body.
struct admin_reply {
  int status = 200;
  std::string body;
};

using admin_done = std::function<void(admin_reply)>;

/// The HTTP status for a failed storage or journal operation: 507 when the
/// store is full, 503 shutting down or overloaded, 400 invalid input, 413 too
/// large, otherwise 500.
int status_for(const caf::error& err);

/// Returns an admin_reply of `status` with the body {"error": message}.
admin_reply error_reply(int status, std::string_view message);

/// Trigger management and explain, implemented by the host because they need
/// the live trigger table. Thread safety: called from any HTTP thread at once.
class trigger_admin {
public:
  virtual ~trigger_admin() = default;

  /// GET /api/triggers: every trigger, config and API ones, by name.
  virtual admin_reply list_triggers() = 0;

  /// GET /api/triggers/{name}.
  virtual admin_reply get_trigger(std::string_view name) = 0;

  /// POST /api/triggers (`name` empty: create; 409 if the name is taken) or
  /// PUT /api/triggers/{name} (create or replace). `done` runs once the
  /// change is durable and in effect for the next routed event.
  virtual void put_trigger(std::string_view body, std::string_view name,
                           admin_done done) = 0;

  /// DELETE /api/triggers/{name}.
  virtual void delete_trigger(std::string_view name, admin_done done) = 0;

  /// POST /api/triggers/{name}/enable and .../disable.
  virtual void set_enabled(std::string_view name, bool enabled,
                           admin_done done) = 0;

  /// POST /api/dlq/{run_id}/replay: a dead run starts a new attempt chain.
  virtual void dlq_replay(std::string_view run_id, admin_done done) = 0;

  /// POST /api/dlq/{run_id}/drop: a dead run leaves the queue (as failed).
  virtual void dlq_drop(std::string_view run_id, admin_done done) = 0;

  /// POST /api/runs/{run_id}/wake: a waiting run resumes now, with
  /// ROUSE_RESUME=wake.
  virtual void run_wake(std::string_view run_id, admin_done done) = 0;

  /// POST /api/runs/{run_id}/wake-me (with that run's token): when the
  /// running attempt succeeds without a wait of its own, it sleeps until
  /// `due_ns` and resumes with `state_json`.
  virtual void run_wake_me(std::string_view run_id, int64_t due_ns,
                           std::string state_json, admin_done done) = 0;

  /// POST /api/runs/{run_id}/cancel: a waiting, pending or retrying run ends
  /// as cancelled.
  virtual void run_cancel(std::string_view run_id, admin_done done) = 0;

  /// POST /api/triggers/{name}/resume: the trigger's budget starts over in
  /// the current window for `key` (every key if empty), so runs it held
  /// start. Answers with the keys reset once that is durable.
  virtual void resume_budget(std::string_view name,
                             std::optional<std::string> key,
                             admin_done done) = 0;

  /// GET /api/triggers/{name}/budget: what each budget key spent in the
  /// current window.
  virtual void budget_spent(std::string_view name, admin_done done) = 0;

  /// GET /api/events/{id}/explain (`source` narrows an id two sources share).
  virtual admin_reply explain(std::string_view event_id,
                              std::optional<std::string_view> source) = 0;
};

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
  /// Serves /api/triggers and /api/events/{id}/explain; those answer 404 when
  /// null. Must outlive the handler.
  trigger_admin* admin = nullptr;
  /// Verifies Rouse-Run-Token headers: events posted with a run's token
  /// carry causation from that run's event (depth + 1). Without it (null) the
  /// header is rejected. Must outlive the handler.
  const run_tokens* tokens = nullptr;
  /// Serves GET /api/schedules (called with an empty id: every schedule) and
  /// GET /api/schedules/{id}. Called from any HTTP thread. Optional.
  std::function<admin_reply(std::string_view id)> schedules;
};

/// Returns the journal callback that answers an ingest request once its
/// append is committed: 202 with `{"events":[{"id","seq","duplicate"}]}`
/// (200 when every event was a duplicate), adding to `received` and
/// `duplicates`; on failure the error's status (400, 503 or 507 with
/// Retry-After, 500). Shared by POST /api/events and webhook sources.
std::function<void(caf::expected<std::vector<store::append_outcome>>)>
answer_append(http::responder respond, std::atomic<uint64_t>* received,
              std::atomic<uint64_t>* duplicates, uint32_t retry_after_seconds);

/// Returns the request handler for the API routes.
http::handler make_api_handler(api_config cfg);

} // namespace rouse::api
