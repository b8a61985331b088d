// `kind: cron` sources in the config: validation into cron_source_config, and
// the JSON view of a schedule that GET /api/schedules/{id} and `rouse timers`
// show. Actor-free.
#pragma once

#include "runtime/config/config.hpp"
#include "sources/cron/ticker.hpp"

#include <memory>
#include <string>
#include <vector>

namespace rouse::sources::cron {

/// One validated cron source.
struct cron_source_config {
  /// The source's key; its events carry it as `source`.
  std::string name;
  /// The events' type. Default "cron.tick".
  std::string type = "cron.tick";
  std::shared_ptr<const rouse::cron::schedule> schedule;
  ticker_policy policy;
};

/// Returns every `kind: cron` source of `cfg`, appending each problem (file,
/// line, key path, reason) to `errors`; sources with problems are left out.
std::vector<cron_source_config>
load_cron_sources(const config::config& cfg,
                  std::vector<config::diagnostic>& errors);

/// The LMDB meta key under which a source's ticker_state is stored.
std::string state_key(std::string_view source_name);

/// Serializes a ticker_state for the store, and back (false: malformed).
std::string encode_state(const ticker_state& st);
bool decode_state(std::string_view bytes, ticker_state& st);

/// Returns the JSON of a schedule: its definition, the next `upcoming` fire
/// times after `now_ns`, its counters, buffered ticks and recent tick
/// records (newest first).
std::string render_schedule(const cron_source_config& src,
                            const ticker_state& st, int64_t now_ns,
                            int upcoming = 5);

} // namespace rouse::sources::cron
