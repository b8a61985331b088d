// Router shard behavior: match, create pending runs, commit them with the
// checkpoint, then hand the runs that were new to their triggers' governors.
#include "actors/router_shard.hpp"

#include "runtime/flow/keys.hpp"

#include "runtime/config/config.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <iostream>

namespace rouse {

namespace {

struct router_shard_state {
  router_shard_config cfg;
  /// Events waiting for the next decision, in seq order.
  std::vector<event> buffered;
  uint64_t buffered_through = 0;
  /// The decision being committed (kept for a retry if the commit fails).
  std::vector<event> in_flight;
  uint64_t in_flight_through = 0;
  /// The trigger table the decision in flight was made with.
  trigger_table_ptr in_flight_table;
  bool busy = false;
  static inline const char* name = "router_shard";
};

using shard_pointer = router_shard_actor::stateful_pointer<router_shard_state>;

/// Describes why `ev` is not run: its depth and the chain of events that
/// emitted one another, newest first (at most 20 links).
std::string loop_chain(const router_shard_config& cfg, const event& ev) {
  std::string note = "loop cut: causation depth " + std::to_string(ev.depth)
                     + " exceeds max_depth " + std::to_string(cfg.max_depth)
                     + "; chain: " + ev.type + " " + ev.id;
  auto cause = ev.cause;
  for (int links = 0; !cause.empty() && links < 20; ++links) {
    note += " <- " + cause;
    if (cfg.db == nullptr)
      break;
    auto found = cfg.db->find_events(cause);
    if (!found || found->empty())
      break;
    cause = found->back().cause;
  }
  return note;
}

void flush(shard_pointer self) {
  auto& st = self->state;
  if (st.busy || (st.buffered.empty() && st.buffered_through == 0))
    return;
  st.in_flight = std::move(st.buffered);
  st.in_flight_through = st.buffered_through;
  st.buffered.clear();
  st.buffered_through = 0;
  st.busy = true;
  store::route_op op;
  op.consumer = shard_consumer_name(st.cfg.index);
  op.through_seq = st.in_flight_through;
  std::vector<uint32_t> hits;
  auto now = wall_clock_ns();
  st.in_flight_table = st.cfg.triggers->load();
  const auto& table = *st.in_flight_table;
  for (const auto& ev : st.in_flight) {
    hits.clear();
    table.matcher->match(ev, hits);
    std::string loop_note;
    for (auto i : hits) {
      const auto& trig = table.triggers[i];
      if (!trig.enabled)
        continue;
      if (ev.source == run_event_source && !trig.run_events)
        continue;
      if (trig.def != nullptr && trig.def->ignore_self
          && ev.received_by == emitted_by(trig.name))
        continue;
      run_record run;
      run.id = make_run_id(ev.seq, trig.name);
      run.trigger = trig.name;
      run.event_seq = ev.seq;
      run.event_id = ev.id;
      run.event_type = ev.type;
      run.created_ns = now;
      if (trig.keys) {
        std::string warning;
        run.flow = trig.keys->render(ev, warning);
        if (!warning.empty())
          std::cerr << "rouse: trigger \"" << trig.name << "\", event "
                    << ev.seq << ": " << warning << "\n";
      }
      run.transition(run_state::pending, now, "matched");
      if (ev.depth > st.cfg.max_depth) {
        if (loop_note.empty())
          loop_note = loop_chain(st.cfg, ev);
        run.error = loop_note;
        run.transition(run_state::dead, now, loop_note);
      }
      op.runs.push_back(std::move(run));
    }
  }
  auto hdl = caf::actor_cast<router_shard_actor>(self);
  op.done = [hdl](caf::expected<std::vector<run_record>> created) {
    if (created)
      caf::anon_send(hdl, routed_atom::value, true, std::move(*created));
    else
      caf::anon_send(hdl, routed_atom::value, false, std::vector<run_record>{});
  };
  st.cfg.journal->submit(std::move(op));
}

router_shard_actor::behavior_type router_shard(shard_pointer self,
                                               router_shard_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
      [=](route_atom, uint64_t through, std::vector<event>& events) {
        auto& st = self->state;
        for (auto& ev : events)
          st.buffered.push_back(std::move(ev));
        st.buffered_through = std::max(st.buffered_through, through);
        flush(self);
      },
      [=](routed_atom, bool ok, std::vector<run_record>& created) {
        auto& st = self->state;
        if (!ok) {
          // Keep the decision and its order: put it back in front and retry.
          // The journal reports the cause (usually a full map) to the senders
          // of events.
          std::cerr << "rouse: shard " << st.cfg.index
                    << ": storing a routing decision failed; retrying in 1s\n";
          for (auto& ev : st.buffered)
            st.in_flight.push_back(std::move(ev));
          st.buffered = std::move(st.in_flight);
          st.buffered_through =
              std::max(st.buffered_through, st.in_flight_through);
          st.in_flight.clear();
          st.in_flight_table.reset();
          self->delayed_send(self, std::chrono::seconds{1}, retry_atom::value);
          return;
        }
        if (st.cfg.queued)
          st.cfg.queued->fetch_sub(static_cast<int64_t>(st.in_flight.size()));
        st.in_flight.clear();
        st.busy = false;
        auto table = std::move(st.in_flight_table);
        for (auto& run : created)
          if (run.current() == run_state::pending)
            if (auto* trig = table->find(run.trigger))
              self->send(trig->governor, admit_atom::value, std::move(run));
        flush(self);
      },
      [=](retry_atom) {
        self->state.busy = false;
        flush(self);
      },
  };
}

} // namespace

std::string shard_consumer_name(uint32_t index) {
  return "shard/" + std::to_string(index);
}

uint32_t shard_of(const event& ev, uint32_t shards) {
  // FNV-1a: stable across runs and builds, unlike std::hash.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  mix(ev.source);
  mix(ev.subject);
  return static_cast<uint32_t>(h % (shards == 0 ? 1 : shards));
}

router_shard_actor spawn_router_shard(caf::actor_system& sys,
                                      router_shard_config cfg) {
  return sys.spawn(router_shard, std::move(cfg));
}

} // namespace rouse
