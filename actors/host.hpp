// A rouse host: the store, the journal, the actor pipeline and the HTTP API,
// started from a config. `rouse serve` is a thin shell over it; embedding
// programs use it directly and may register their own C++ handler actors.
#pragma once

#include "messages/errc.hpp"
#include "messages/interfaces.hpp"
#include "runtime/config/config.hpp"
#include "runtime/store/journal.hpp"

#include <caf/fwd.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rouse::store {
class store;
} // namespace rouse::store

namespace rouse {

struct host_options {
  /// The loaded configuration (runtime/config).
  config::config cfg;
  /// Handler actors for triggers with `run: {actor: NAME}`, by NAME.
  std::vector<std::pair<std::string, handler_actor>> actor_handlers;
  /// Serve POST /api/_bench/accept (the no-journal control of bench/ingest).
  bool bench_control = false;
  /// Print startup and recovery lines to stderr.
  bool verbose = true;
};

/// Thread safety: start() and stop() from one thread; emit(), port() and db()
/// from any.
class host {
public:
  /// Opens the store, recovers, spawns the pipeline in `sys` and starts the
  /// HTTP listener. `sys` must outlive the host.
  static caf::expected<std::unique_ptr<host>> start(caf::actor_system& sys,
                                                    host_options opts);

  ~host();
  host(const host&) = delete;
  host& operator=(const host&) = delete;

  /// Stops accepting requests, stops the pipeline's actors, commits what the
  /// journal holds and closes the store. Runs still executing stay `running` in
  /// the store and are retried at the next start. Idempotent.
  void stop();

  /// Returns the bound HTTP port.
  uint16_t port() const noexcept;

  /// Returns the API base URL, e.g. "http://127.0.0.1:7700".
  std::string api_url() const;

  /// Stores events as if posted to /api/events (received_by "embed"); `done`
  /// runs on the journal thread after the commit.
  void
  emit(std::vector<event> events,
       std::function<void(caf::expected<std::vector<store::append_outcome>>)>
           done);

  /// The store, for reads (runs, events).
  store::store& db() noexcept;

private:
  host();
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace rouse
