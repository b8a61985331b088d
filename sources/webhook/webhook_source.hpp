// The webhook source (`kind: webhook`): one path per source on the host's
// HTTP listener. A request is verified (runtime/webhook), turned into events
// (the provider's own event plus normalized git.push / ci.run.completed, or
// CloudEvents in binary, structured or batch mode) and answered 202 only
// after the journal commit. A rejected request stores nothing.
#pragma once

#include "runtime/config/config.hpp"
#include "runtime/http/message.hpp"
#include "runtime/webhook/verify.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rouse::store {
class journal;
} // namespace rouse::store

namespace rouse::metrics {
class registry;
} // namespace rouse::metrics

namespace rouse::sources::webhook {

/// How a request body becomes events.
enum class body_format {
  /// The provider's payload is the event's data; the type is the provider's
  /// (`github.push`), the id its delivery id. Pushes and finished CI runs also
  /// yield `git.push` / `ci.run.completed` (docs/events.md).
  provider,
  /// The CloudEvents HTTP binding: binary (`ce-*` headers), structured
  /// (`application/cloudevents+json`) or batch
  /// (`application/cloudevents-batch+json`).
  cloudevents,
  /// Any JSON body is the data of one event of the configured `type`.
  json,
};

/// One webhook source, validated.
struct webhook_config {
  /// The source name: the `source` attribute of its events.
  std::string name;
  /// The request path, e.g. "/hooks/github".
  std::string path;
  ::rouse::webhook::verify_config verify;
  /// Default: provider for github, forgejo, gitea, gitlab, stripe, slack and
  /// standard_webhooks; json otherwise.
  body_format format = body_format::json;
  /// The event type for format json. Default "<name>.received".
  std::string type;
  /// Template of the event id (and so the dedup key), e.g.
  /// "{{header.X-Request-Id}}" or "{{data.id}}". Default: the provider's
  /// delivery id, else a random id (no dedup).
  std::string dedup_key;
  /// Requests accepted per `rate_per`; 0 (default) means no limit. Over it,
  /// the answer is 429 with Retry-After and nothing is stored.
  uint32_t rate_limit = 0;
  std::chrono::milliseconds rate_per{1000};
  /// Emit normalized git.push / ci.run.completed events. Default true.
  bool normalize = true;
};

/// Returns the webhook sources of `cfg` (sources with kind webhook) or, in
/// `errors`, every problem with file and line. Checks that paths are unique,
/// start with '/' and do not shadow /api, /healthz or /metrics, and that
/// scheme none is only used on a loopback listener.
std::vector<webhook_config>
load_webhook_sources(const config::config& cfg,
                     std::vector<config::diagnostic>& errors);

/// Serves every webhook source's path. Thread safety: handle() may be called
/// from any number of HTTP threads at once.
class webhook_routes {
public:
  /// `journal` and `metrics` must outlive the routes.
  webhook_routes(std::vector<webhook_config> sources, store::journal* journal,
                 metrics::registry* metrics);
  ~webhook_routes();

  /// Handles `req` and returns true if its path belongs to a webhook source;
  /// returns false (and leaves `req` and `respond` untouched) otherwise.
  bool handle(http::request& req, http::responder& respond);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace rouse::sources::webhook
