// The live trigger set's admin operations on what its triggers produced:
// dead-letter replay and drop, wakes and cancels of runs, budgets (spent and
// resume) and explain for an event. Trigger changes are in trigger_set.cpp.
#include "actors/trigger_set.hpp"

#include "actors/governor.hpp"
#include "actors/router_shard.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/pattern/reference.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <caf/all.hpp>

namespace rouse {

using api::error_reply;

namespace {

/// Loads run `id` and checks it is dead; on failure answers through `done`.
std::optional<run_record> dead_run(store::store& db, std::string_view id,
                                   api::admin_done& done) {
  auto run = db.get_run(id);
  if (!run) {
    done(error_reply(500, describe(run.error())));
    return std::nullopt;
  }
  if (!*run) {
    done(error_reply(404, "no run \"" + std::string{id} + "\""));
    return std::nullopt;
  }
  if ((*run)->current() != run_state::dead) {
    done(error_reply(409, "run \"" + std::string{id} + "\" is "
                              + to_string((*run)->current())
                              + ", not in the dead-letter queue"));
    return std::nullopt;
  }
  return std::move(**run);
}

} // namespace

void trigger_set::dlq_replay(std::string_view run_id, api::admin_done done) {
  auto run = dead_run(*cfg_.db, run_id, done);
  if (!run)
    return;
  auto table = registry_->load();
  const auto* trig = table ? table->find(run->trigger) : nullptr;
  if (trig == nullptr)
    return done(error_reply(409, "trigger \"" + run->trigger + "\" of run \""
                                     + run->id + "\" no longer exists"));
  auto attempts = run->attempt;
  run->attempt = 0;
  run->transition(run_state::pending, wall_clock_ns(),
                  "replayed from the dead-letter queue after "
                      + std::to_string(attempts)
                      + " attempt(s); new attempt chain");
  store::run_op op;
  op.run = *run;
  auto governor = trig->governor;
  op.done = [governor, run = std::move(*run),
             done = std::move(done)](caf::error err) mutable {
    if (err)
      return done(error_reply(500, describe(err)));
    json::object_writer w;
    w.field("replayed", run.id).field("state", "pending");
    caf::anon_send(governor, admit_atom::value, std::move(run));
    done({200, w.finish()});
  };
  cfg_.journal->submit(std::move(op));
}

void trigger_set::dlq_drop(std::string_view run_id, api::admin_done done) {
  auto run = dead_run(*cfg_.db, run_id, done);
  if (!run)
    return;
  run->transition(run_state::failed, wall_clock_ns(),
                  "dropped from the dead-letter queue");
  store::run_op op;
  op.run = *run;
  op.done = [id = run->id, done = std::move(done)](caf::error err) {
    if (err)
      return done(error_reply(500, describe(err)));
    json::object_writer w;
    w.field("dropped", id).field("state", "failed");
    done({200, w.finish()});
  };
  cfg_.journal->submit(std::move(op));
}

namespace {

run_reply to_run_reply(api::admin_done done) {
  return [done = std::move(done)](int status, std::string body) {
    done({status, std::move(body)});
  };
}

} // namespace

void trigger_set::run_wake(std::string_view run_id, api::admin_done done) {
  caf::anon_send(cfg_.dispatcher, wake_atom::value,
                 wake_request{std::string{run_id}, "wake", 0, 0},
                 to_run_reply(std::move(done)));
}

void trigger_set::run_wake_me(std::string_view run_id, int64_t due_ns,
                              std::string state_json, api::admin_done done) {
  caf::anon_send(cfg_.dispatcher, wake_me_atom::value, std::string{run_id},
                 due_ns, std::move(state_json), to_run_reply(std::move(done)));
}

void trigger_set::run_cancel(std::string_view run_id, api::admin_done done) {
  caf::anon_send(cfg_.dispatcher, cancel_atom::value, std::string{run_id},
                 to_run_reply(std::move(done)));
}

namespace {

/// What `spent` (one window of `policy`) looks like to API clients.
std::string render_budget(const std::string& trigger,
                          const config::flow_policy::budget_policy& policy,
                          const std::vector<budget_usage>& spent, int64_t now) {
  const auto per =
      std::chrono::duration_cast<std::chrono::nanoseconds>(policy.per).count();
  const auto window = budget_window(now, per);
  json::array_writer keys;
  for (const auto& u : spent) {
    json::object_writer k;
    k.field("key", u.key).field("runs", u.runs).field("cost", u.cost);
    k.field("spent", (policy.runs > 0 && u.runs >= policy.runs)
                         || (policy.cost > 0 && u.cost >= policy.cost));
    keys.raw(k.finish());
  }
  json::object_writer limit;
  if (policy.runs > 0)
    limit.field("runs", policy.runs);
  if (policy.cost > 0)
    limit.field("cost", policy.cost);
  limit.field("per", config::format_duration(policy.per));
  json::object_writer w;
  w.field("trigger", trigger)
      .raw("budget", limit.finish())
      .field("window_start", json::format_rfc3339(window))
      .field("window_end", json::format_rfc3339(window + per))
      .raw("keys", keys.finish());
  return w.finish();
}

} // namespace

std::pair<governor_actor, std::shared_ptr<const config::trigger_config>>
trigger_set::with_budget(std::string_view name, api::admin_done& done) {
  std::unique_lock<std::mutex> guard{mutex_};
  auto i = live_.find(std::string{name});
  if (i == live_.end()) {
    guard.unlock();
    done(error_reply(404, "no trigger \"" + std::string{name} + "\""));
    return {};
  }
  auto found = std::pair{i->second.governor, i->second.def};
  guard.unlock();
  if (!found.second->flow.budget.on()) {
    done(error_reply(409,
                     "trigger \"" + found.second->name + "\" has no budget"));
    return {};
  }
  return found;
}

void trigger_set::resume_budget(std::string_view name,
                                std::optional<std::string> key,
                                api::admin_done done) {
  auto governor = with_budget(name, done).first;
  if (!governor)
    return;
  auto* journal = cfg_.journal;
  budget_reply reply = [journal, trigger = std::string{name},
                        done](std::vector<budget_usage> reset) {
    json::array_writer keys;
    for (const auto& u : reset)
      keys.value(u.key);
    json::object_writer w;
    w.field("trigger", trigger).raw("resumed", keys.finish());
    auto body = w.finish();
    if (reset.empty())
      return done({200, std::move(body)});
    // Stored as spending nothing, so a restart does not hold the runs again.
    store::budget_op op;
    op.trigger = trigger;
    op.usage = std::move(reset);
    op.done = [done, body = std::move(body)](caf::error err) {
      if (err)
        return done(error_reply(api::status_for(err), describe(err)));
      done({200, body});
    };
    journal->submit(std::move(op));
  };
  caf::anon_send(governor, resume_atom::value, key.value_or(std::string{}),
                 !key.has_value(), std::move(reply));
}

void trigger_set::budget_spent(std::string_view name, api::admin_done done) {
  auto found = with_budget(name, done);
  if (!found.first)
    return;
  auto governor = found.first;
  auto def = found.second;
  budget_reply reply = [def, done](std::vector<budget_usage> spent) {
    done({200,
          render_budget(def->name, def->flow.budget, spent, wall_clock_ns())});
  };
  caf::anon_send(governor, spent_atom::value, std::move(reply));
}

api::admin_reply trigger_set::explain(std::string_view event_id,
                                      std::optional<std::string_view> source) {
  auto found = cfg_.db->find_events(event_id);
  if (!found)
    return error_reply(500, describe(found.error()));
  std::vector<event> events;
  for (auto& ev : *found)
    if (!source || ev.source == *source)
      events.push_back(std::move(ev));
  if (events.empty())
    return error_reply(
        404, "no event with id \"" + std::string{event_id} + "\""
                 + (source ? " and source \"" + std::string{*source} + "\""
                           : std::string{}));
  auto table = registry_->load();
  json::array_writer out;
  for (const auto& ev : events) {
    auto text = json::encode_cloudevent(ev);
    auto checkpoint =
        cfg_.db->checkpoint(shard_consumer_name(shard_of(ev, cfg_.shards)));
    bool routed = checkpoint && *checkpoint >= ev.seq;
    json::array_writer triggers;
    for (const auto& t : table->triggers) {
      json::object_writer w;
      w.field("trigger", t.name).field("origin", t.origin);
      auto why_not = pattern::explain_mismatch(*t.def->pattern, text);
      w.field("matched", !why_not.has_value());
      if (why_not) {
        w.field("reason", *why_not);
        triggers.raw(w.finish());
        continue;
      }
      auto run_id = make_run_id(ev.seq, t.name);
      auto run = cfg_.db->get_run(run_id);
      if (run && *run) {
        json::object_writer r;
        r.field("id", run_id)
            .field("state", to_string((*run)->current()))
            .field("attempt", uint64_t{(*run)->attempt});
        w.raw("run", r.finish());
      } else if (!routed) {
        w.field("reason", "not routed yet: the event is waiting for its "
                          "router shard");
      } else if (!t.enabled) {
        w.field("reason", "the trigger is disabled");
      } else {
        w.field("reason",
                "no run: the trigger did not exist, was disabled or had "
                "another pattern when the event was routed");
      }
      triggers.raw(w.finish());
    }
    json::object_writer e;
    e.field("id", ev.id)
        .field("source", ev.source)
        .field("type", ev.type)
        .field("seq", ev.seq)
        .raw("triggers", triggers.finish());
    out.raw(e.finish());
  }
  json::object_writer w;
  w.raw("events", out.finish());
  return {200, w.finish()};
}

} // namespace rouse
