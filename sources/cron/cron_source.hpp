// The cron source actor: one per `kind: cron` source. It asks its ticker what
// is due, appends each fired tick as an event (id = the nominal time, so a
// tick decided twice is stored once), stores the ticker's state, and
// schedules its next look with a self-sent delayed message.
#pragma once

#include "messages/interfaces.hpp"
#include "sources/cron/cron_config.hpp"

#include <caf/fwd.hpp>

namespace rouse::store {
class journal;
class store;
} // namespace rouse::store

namespace rouse::sources::cron {

struct cron_source_deps {
  /// Must outlive the actor.
  store::store* db = nullptr;
  store::journal* journal = nullptr;
  /// cancel_other cancels the previous tick's runs through it.
  dispatcher_actor dispatcher;
};

/// Spawns the actor for `cfg`. It restores its state from the store, decides
/// what fell due while the host was down (catch-up), and runs until it is
/// sent an exit message.
caf::actor spawn_cron_source(caf::actor_system& sys, cron_source_config cfg,
                             cron_source_deps deps);

} // namespace rouse::sources::cron
