// Cron source behavior. The wall clock is read at every look, and a look is
// never scheduled more than max_sleep ahead, so a host that was suspended or
// whose clock was set catches up within that bound instead of trusting one
// long timer.
#include "sources/cron/cron_source.hpp"

#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <iostream>

namespace rouse::sources::cron {

namespace {

using look_atom = caf::atom_constant<caf::atom("cronlook")>;
using appended_atom = caf::atom_constant<caf::atom("cronadded")>;

/// The longest single wait between looks at the clock.
constexpr std::chrono::seconds max_sleep{30};
/// How often a source with buffered ticks checks the previous runs.
constexpr std::chrono::milliseconds buffer_poll{500};

struct cron_state {
  cron_source_config cfg;
  cron_source_deps deps;
  std::unique_ptr<ticker> tick;
  /// The state before the decision whose events are being appended (put back
  /// if the append fails, so those ticks are decided again).
  ticker_state before;
  bool appending = false;
  /// Only the newest scheduled look counts.
  uint64_t generation = 0;
  static inline const char* name = "cron_source";
};

using cron_pointer = caf::stateful_actor<cron_state>*;

void log(cron_pointer self, const std::string& line) {
  std::cerr << "rouse: cron source " << self->state.cfg.name << ": " << line
            << "\n";
}

/// Whether runs of the last fired tick are unfinished (waiting counts).
bool previous_active(cron_pointer self,
                     std::vector<run_record>* active = nullptr) {
  auto seq = self->state.tick->state().last_fired_seq;
  if (seq == 0)
    return false;
  auto runs = self->state.deps.db->runs_for_event(seq);
  if (!runs) {
    log(self,
        "reading the previous tick's runs failed: " + describe(runs.error()));
    return false;
  }
  bool any = false;
  for (auto& run : *runs)
    if (!is_terminal(run.current())) {
      any = true;
      if (active != nullptr)
        active->push_back(std::move(run));
    }
  return any;
}

void schedule_look(cron_pointer self) {
  auto& st = self->state;
  auto now = wall_clock_ns();
  std::chrono::nanoseconds delay = max_sleep;
  if (auto due = st.tick->next_due())
    delay = std::min<std::chrono::nanoseconds>(
        delay, std::chrono::nanoseconds{std::max<int64_t>(*due - now, 0)});
  if (!st.tick->state().buffered.empty())
    delay = std::min<std::chrono::nanoseconds>(delay, buffer_poll);
  self->delayed_send(self, delay, look_atom::value, ++st.generation);
}

void store_state(cron_pointer self) {
  store::state_op op;
  op.key = state_key(self->state.cfg.name);
  op.value = encode_state(self->state.tick->state());
  op.done = [name = self->state.cfg.name](caf::error err) {
    if (err)
      std::cerr << "rouse: cron source " << name
                << ": storing its state failed: " << describe(err) << "\n";
  };
  self->state.deps.journal->submit(std::move(op));
}

event tick_event(const cron_source_config& cfg, const tick_fire& f,
                 int64_t now) {
  const auto& s = *cfg.schedule;
  event ev;
  ev.source = cfg.name;
  ev.type = cfg.type;
  ev.id = s.format(f.nominal_ns);
  ev.time = json::format_rfc3339(now);
  ev.received_by = "cron";
  ev.datacontenttype = "application/json";
  json::object_writer d;
  d.field("schedule", s.text())
      .field("timezone", s.opts().timezone)
      .field("nominal", ev.id)
      .field("due", s.format(f.due_ns))
      .field("late_ms", std::max<int64_t>(now - f.due_ns, 0) / 1000000)
      .field("catchup", f.catchup)
      .field("buffered", f.from_buffer);
  ev.data = d.finish();
  return ev;
}

void look(cron_pointer self) {
  auto& st = self->state;
  if (st.appending)
    return; // the append's answer looks again
  std::vector<run_record> active;
  bool busy = previous_active(self, &active);
  st.before = st.tick->state();
  auto now = wall_clock_ns();
  auto fires = st.tick->advance(now, busy);
  if (fires.empty()) {
    if (!(st.tick->state() == st.before))
      store_state(self);
    schedule_look(self);
    return;
  }
  store::append_op op;
  std::vector<int64_t> nominals;
  for (const auto& f : fires) {
    if (f.cancel_previous) {
      for (const auto& run : active)
        caf::anon_send(st.deps.dispatcher, cancel_atom::value, run.id,
                       run_reply{[id = run.id, name = st.cfg.name](
                                     int status, std::string body) {
                         if (status != 200)
                           std::cerr << "rouse: cron source " << name
                                     << ": cancelling run " << id
                                     << " for the next tick failed: " << body
                                     << "\n";
                       }});
      active.clear();
    }
    op.events.push_back(tick_event(st.cfg, f, now));
    nominals.push_back(f.nominal_ns);
  }
  st.appending = true;
  auto hdl = caf::actor_cast<caf::actor>(self);
  op.done = [hdl, nominals = std::move(nominals)](
                caf::expected<std::vector<store::append_outcome>> r) {
    std::vector<uint64_t> seqs;
    std::string error;
    if (r)
      for (const auto& o : *r)
        seqs.push_back(o.seq);
    else
      error = describe(r.error());
    caf::anon_send(hdl, appended_atom::value, nominals, seqs, error);
  };
  st.deps.journal->submit(std::move(op));
}

caf::behavior cron_source(cron_pointer self, cron_source_config cfg,
                          cron_source_deps deps) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.deps = deps;
  ticker_state restored;
  auto stored = st.deps.db->get_state(state_key(st.cfg.name));
  if (!stored)
    log(self, "reading its state failed (" + describe(stored.error())
                  + "); starting the schedule now");
  else if (*stored && !decode_state(**stored, restored))
    log(self, "its stored state is malformed; starting the schedule now");
  st.tick = std::make_unique<ticker>(st.cfg.name, *st.cfg.schedule,
                                     st.cfg.policy, std::move(restored));
  self->send(self, look_atom::value, ++st.generation);
  return {
      [=](look_atom, uint64_t generation) {
        if (generation == self->state.generation)
          look(self);
      },
      [=](appended_atom, std::vector<int64_t>& nominals,
          std::vector<uint64_t>& seqs, std::string& error) {
        auto& s = self->state;
        s.appending = false;
        if (!error.empty() || seqs.size() != nominals.size()) {
          log(self, "storing its tick events failed (" + error
                        + "); deciding them again in 1s");
          s.tick = std::make_unique<ticker>(s.cfg.name, *s.cfg.schedule,
                                            s.cfg.policy, s.before);
          self->delayed_send(self, std::chrono::seconds{1}, look_atom::value,
                             ++s.generation);
          return;
        }
        for (std::size_t i = 0; i < seqs.size(); ++i)
          s.tick->fired(nominals[i], seqs[i]);
        store_state(self);
        schedule_look(self);
      },
  };
}

} // namespace

caf::actor spawn_cron_source(caf::actor_system& sys, cron_source_config cfg,
                             cron_source_deps deps) {
  return sys.spawn(cron_source, std::move(cfg), deps);
}

} // namespace rouse::sources::cron
