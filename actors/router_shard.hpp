// A router shard: decides which triggers each committed event of its partition
// fires, strictly in journal order, and records each decision together with its
// checkpoint.
#pragma once

#include "actors/trigger_table.hpp"
#include "messages/interfaces.hpp"

#include <caf/fwd.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace rouse::store {
class journal;
class store;
} // namespace rouse::store

namespace rouse {

struct router_shard_config {
  /// This shard's index; its checkpoint is stored as "shard/<index>".
  uint32_t index = 0;
  /// The current triggers; each routing decision uses one table throughout.
  trigger_registry_ptr triggers;
  /// Where decisions are written; must outlive the actor.
  store::journal* journal = nullptr;
  /// For the causation chain of a loop cut at max_depth; must outlive the
  /// actor. May be null (the chain then names only the event).
  store::store* db = nullptr;
  /// Runs for events deeper than this are created dead (node.max_depth).
  uint32_t max_depth = 8;
  /// Counts events handed to the shard until they are routed (backpressure,
  /// with the runs governors hold); may be null.
  std::shared_ptr<std::atomic<int64_t>> queued;
};

/// Returns the checkpoint name of shard `index`.
std::string shard_consumer_name(uint32_t index);

/// Returns the shard of `ev` among `shards`: a hash of (source, subject), so
/// every event of one subject is decided by one shard, in journal order.
uint32_t shard_of(const event& ev, uint32_t shards);

/// Spawns a router shard. It keeps at most one decision in flight: events that
/// arrive meanwhile are decided together in the next one, which keeps order and
/// batches writes.
router_shard_actor spawn_router_shard(caf::actor_system& sys,
                                      router_shard_config cfg);

} // namespace rouse
