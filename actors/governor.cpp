// Governor behavior: every message is one scheduler step followed by carrying
// out its decisions and re-arming the timer. The governor stores nothing
// itself: runs it holds are `pending` in the store, so after a restart they
// are admitted again in journal order and the same decisions follow.
#include "actors/governor.hpp"

#include "runtime/flow/scheduler.hpp"

#include "messages/clock.hpp"

#include <caf/all.hpp>

#include <unordered_map>

namespace rouse {

namespace {

struct governor_state {
  governor_config cfg;
  std::unique_ptr<flow::scheduler> sched;
  /// The records of the runs the scheduler holds.
  std::unordered_map<std::string, run_record> runs;
  std::vector<flow::decision> out;
  /// The due time the timer is set for (0: none) and its generation.
  int64_t armed_ns = 0;
  uint64_t gen = 0;
  static inline const char* name = "governor";
};

using governor_pointer = governor_actor::stateful_pointer<governor_state>;

int64_t now_ns(governor_pointer self) {
  return self->state.cfg.now ? self->state.cfg.now() : wall_clock_ns();
}

flow::item to_item(const run_record& run) {
  flow::item x;
  x.run_id = run.id;
  x.seq = run.event_seq;
  x.arrived_ns = run.created_ns;
  x.keys = run.flow;
  // Retries, resumed runs and stored batches were decided before. A run
  // counts against the budget once: at its first start.
  x.counts = run.attempt == 0 && run.wait.resumes == 0;
  x.fresh = x.counts && run.flow.batch.empty();
  return x;
}

/// Removes the record of `id` from the held runs.
run_record take(governor_pointer self, const std::string& id) {
  auto& runs = self->state.runs;
  auto i = runs.find(id);
  if (i == runs.end())
    return {};
  auto run = std::move(i->second);
  runs.erase(i);
  return run;
}

// Carries out the scheduler's decisions, then keeps the timer on the next due
// one and the node's held count current.
void carry_out(governor_pointer self) {
  auto& st = self->state;
  const auto before = static_cast<int64_t>(st.runs.size());
  // Sending does not call the scheduler, so st.out is stable here; clearing
  // it afterwards keeps its capacity for the next message.
  for (auto& d : st.out) {
    switch (d.kind) {
    case flow::decision::launch: {
      auto run = take(self, d.run_id);
      // Stored before the start is: the journal keeps the order, so a run
      // that started always finds its token spent after a restart.
      if (st.cfg.remember_rate)
        if (auto tat = st.sched->rate_memo(run.flow.rate_key))
          st.cfg.remember_rate(run.flow.rate_key, *tat);
      self->send(st.cfg.dispatcher, launch_atom::value, std::move(run));
      break;
    }
    case flow::decision::skip:
    case flow::decision::reject:
      self->send(st.cfg.dispatcher, skip_atom::value, take(self, d.run_id),
                 static_cast<uint8_t>(d.kind == flow::decision::skip
                                          ? run_state::skipped
                                          : run_state::dead),
                 std::move(d.reason));
      break;
    case flow::decision::batch: {
      auto leader = take(self, d.run_id);
      std::vector<run_record> members;
      leader.flow.batch.push_back(leader.event_seq);
      for (const auto& id : d.members) {
        members.push_back(take(self, id));
        leader.flow.batch.push_back(members.back().event_seq);
      }
      self->send(st.cfg.dispatcher, batch_atom::value, std::move(leader),
                 std::move(members));
      break;
    }
    case flow::decision::circuit_open:
    case flow::decision::circuit_closed:
      self->send(st.cfg.dispatcher, notice_atom::value, st.cfg.trigger,
                 std::string{d.kind == flow::decision::circuit_open
                                 ? "rouse.trigger.circuit_open"
                                 : "rouse.trigger.circuit_closed"},
                 std::move(d.reason), std::string{});
      if (st.cfg.remember_circuit)
        st.cfg.remember_circuit(st.sched->circuit_memo());
      break;
    case flow::decision::stop:
      self->send(st.cfg.dispatcher, stop_atom::value, std::move(d.run_id),
                 std::move(d.reason));
      break;
    case flow::decision::budget_exceeded:
      self->send(st.cfg.dispatcher, notice_atom::value, st.cfg.trigger,
                 std::string{"rouse.budget.exceeded"}, std::move(d.reason),
                 std::move(d.run_id));
      break;
    }
  }
  st.out.clear();
  if (st.cfg.held)
    st.cfg.held->fetch_add(static_cast<int64_t>(st.runs.size()) - before);
  auto due = st.sched->next_due();
  if (!due || *due == st.armed_ns)
    return;
  st.armed_ns = *due;
  auto wait = std::max<int64_t>(0, *due - now_ns(self));
  self->delayed_send(self, std::chrono::nanoseconds{wait}, tick_atom::value,
                     ++st.gen);
}

governor_actor::behavior_type governor(governor_pointer self,
                                       governor_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.sched = std::make_unique<flow::scheduler>(self->state.cfg.policy);
  self->state.sched->load_budget(self->state.cfg.budget_spent, now_ns(self));
  self->state.sched->load_circuit(self->state.cfg.circuit);
  self->state.sched->load_rate(self->state.cfg.rate_tats, now_ns(self));
  self->state.cfg.budget_spent.clear();
  self->state.cfg.rate_tats.clear();
  self->attach_functor([self] {
    // Runs held at exit stay pending in the store; uncount them.
    if (self->state.cfg.held)
      self->state.cfg.held->fetch_sub(
          static_cast<int64_t>(self->state.runs.size()));
  });
  return {
      [=](admit_atom, run_record& run) {
        auto& st = self->state;
        // An admission can arrive twice after recovery: the first one counts.
        if (st.sched->knows(run.id))
          return;
        auto x = to_item(run);
        if (st.cfg.held)
          st.cfg.held->fetch_add(1);
        auto id = run.id;
        st.runs.emplace(std::move(id), std::move(run));
        st.sched->admit(std::move(x), now_ns(self), st.out);
        carry_out(self);
      },
      [=](release_atom, const std::string& run_id) {
        self->state.sched->release(run_id, now_ns(self), self->state.out);
        carry_out(self);
      },
      [=](release_atom, const std::string& run_id, int8_t outcome,
          double cost) {
        std::optional<bool> ok;
        if (outcome >= 0)
          ok = outcome == 1;
        self->state.sched->release(run_id, now_ns(self), self->state.out, ok,
                                   cost);
        carry_out(self);
      },
      [=](resume_atom, const std::string& key, bool all,
          const budget_reply& reply) {
        auto& st = self->state;
        auto reset = st.sched->resume(all ? std::nullopt
                                          : std::optional<std::string>{key},
                                      now_ns(self), st.out);
        carry_out(self);
        if (reply)
          reply(std::move(reset));
      },
      [=](spent_atom, const budget_reply& reply) {
        if (reply)
          reply(self->state.sched->budget_spent(now_ns(self)));
      },
      [=](limit_atom, flow_settings& policy) {
        self->state.cfg.policy = policy;
        self->state.sched->reconfigure(policy, now_ns(self), self->state.out);
        carry_out(self);
      },
      [=](tick_atom, uint64_t gen) {
        auto& st = self->state;
        if (gen != st.gen)
          return;
        st.armed_ns = 0;
        st.sched->advance(now_ns(self), st.out);
        carry_out(self);
      },
  };
}

} // namespace

governor_actor spawn_governor(caf::actor_system& sys, governor_config cfg) {
  return sys.spawn(governor, std::move(cfg));
}

} // namespace rouse
