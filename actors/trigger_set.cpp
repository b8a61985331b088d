// The live trigger set: API changes are validated, made durable through the
// journal (ordered with everything else it writes), then applied under the
// mutex and published as a new immutable table.
#include "actors/trigger_set.hpp"

#include "actors/exec_handler.hpp"
#include "actors/governor.hpp"
#include "runtime/flow/keys.hpp"
#include "runtime/flow/scheduler.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/store/journal.hpp"
#include "runtime/store/store.hpp"

#include "messages/clock.hpp"

#include <caf/all.hpp>

#include <charconv>
#include <filesystem>
#include <iostream>

namespace rouse {

using api::error_reply;

namespace {

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || std::filesystem::path{path}.is_absolute()
      || base_dir.empty())
    return path;
  return (std::filesystem::path{base_dir} / path).lexically_normal().string();
}

} // namespace

trigger_set::trigger_set(trigger_set_config cfg, trigger_registry_ptr registry)
    : cfg_(std::move(cfg)), registry_(std::move(registry)) {}

trigger_set::~trigger_set() {
  stop();
}

std::string trigger_set::check_handler(const config::trigger_config& t) const {
  if (t.run.actor.empty())
    return {};
  for (const auto& [name, hdl] : cfg_.actor_handlers)
    if (name == t.run.actor)
      return {};
  return "run.actor: no handler actor \"" + t.run.actor
         + "\" is registered by this program";
}

caf::error
trigger_set::load(const std::vector<config::trigger_config>& from_config,
                  std::vector<std::string>& warnings) {
  std::lock_guard<std::mutex> guard{mutex_};
  for (const auto& t : from_config) {
    if (auto problem = check_handler(t); !problem.empty())
      return make_error(errc::invalid_config,
                        cfg_.config_file + ":" + std::to_string(t.line)
                            + ": triggers." + t.name + "." + problem);
    config_order_.push_back(t.name);
    install(std::make_shared<const config::trigger_config>(t), "config");
  }
  auto stored = cfg_.db->triggers();
  if (!stored)
    return std::move(stored.error());
  for (const auto& [name, text] : *stored) {
    if (live_.count(name) > 0) {
      warnings.push_back("stored trigger \"" + name
                         + "\" is shadowed by the config trigger of that "
                           "name; remove one of them");
      continue;
    }
    auto def = config::parse_trigger_json(text, cfg_.base_dir);
    std::string problem = def ? check_handler(*def) : describe(def.error());
    if (!problem.empty()) {
      warnings.push_back("stored trigger \"" + name
                         + "\" is not loaded: " + problem);
      continue;
    }
    install(std::make_shared<const config::trigger_config>(std::move(*def)),
            "api");
  }
  publish();
  return {};
}

void trigger_set::stop() {
  std::lock_guard<std::mutex> guard{mutex_};
  if (stopped_)
    return;
  stopped_ = true;
  for (auto& [name, t] : live_) {
    if (t.governor)
      caf::anon_send_exit(t.governor, caf::exit_reason::user_shutdown);
    if (t.handler && t.def->run.actor.empty())
      caf::anon_send_exit(t.handler, caf::exit_reason::user_shutdown);
  }
  live_.clear();
}

void trigger_set::install(std::shared_ptr<const config::trigger_config> def,
                          std::string origin) {
  auto& t = live_[def->name];
  bool same_run = t.def && t.def->run.exec == def->run.exec
                  && t.def->run.actor == def->run.actor
                  && t.def->run.cwd == def->run.cwd
                  && t.def->run.env == def->run.env
                  && t.def->run.timeout == def->run.timeout
                  && t.def->run.kill_grace == def->run.kill_grace;
  if (!same_run) {
    // A changed handler gets new actors; runs already executing finish on
    // the old ones, which exit once nothing refers to them.
    if (!def->run.actor.empty()) {
      for (const auto& [name, hdl] : cfg_.actor_handlers)
        if (name == def->run.actor)
          t.handler = hdl;
      t.exec = exec_handler_actor{};
      t.timeout = def->run.timeout;
    } else {
      exec_handler_config ec;
      ec.trigger = def->name;
      ec.argv = def->run.exec;
      // A relative command path ("./agents/review.sh") is relative to the
      // config file, like every other path in it; a bare name is searched in
      // PATH.
      if (!ec.argv.empty() && ec.argv[0].find('/') != std::string::npos)
        ec.argv[0] = resolve(cfg_.base_dir, ec.argv[0]);
      ec.cwd = def->run.cwd.empty() ? cfg_.base_dir
                                    : resolve(cfg_.base_dir, def->run.cwd);
      ec.env = def->run.env;
      ec.timeout = def->run.timeout;
      ec.kill_grace = def->run.kill_grace;
      ec.output_cap_bytes = cfg_.output_cap_bytes;
      ec.api_url = cfg_.api_url;
      ec.tokens = cfg_.tokens;
      ec.runner = cfg_.runner;
      t.exec = spawn_exec_handler(*cfg_.sys, std::move(ec));
      t.handler = caf::actor_cast<handler_actor>(t.exec);
      // The exec handler enforces the timeout on the process itself; the
      // request only needs to outlive it.
      t.timeout = std::chrono::milliseconds{0};
    }
  }
  auto policy = flow::settings_from(def->concurrency, def->flow);
  if (!t.governor) {
    governor_config gc;
    gc.trigger = def->name;
    gc.policy = policy;
    gc.dispatcher = cfg_.dispatcher;
    gc.held = cfg_.held;
    if (def->flow.budget.on()) {
      if (auto spent = cfg_.db->budgets(def->name))
        gc.budget_spent = std::move(*spent);
      else
        std::cerr << "rouse: trigger \"" << def->name
                  << "\": reading what its budget spent failed ("
                  << describe(spent.error()) << "); it starts from zero\n";
    }
    // An open circuit stays open across a restart.
    auto circuit_key = "circuit\x1f" + def->name;
    if (def->flow.circuit.failures > 0)
      if (auto stored = cfg_.db->get_state(circuit_key); stored && *stored)
        gc.circuit = std::move(**stored);
    gc.remember_circuit = [journal = cfg_.journal,
                           key = std::move(circuit_key)](std::string memo) {
      store::state_op op;
      op.key = key;
      op.value = std::move(memo);
      journal->submit(std::move(op));
    };
    // Rate buckets survive a restart: each launch stores its key's GCRA time
    // (before the start, through the same journal), and a restart takes
    // back the times still ahead; the rest are full buckets again and go.
    auto rate_prefix = "rate\x1f" + def->name + "\x1f";
    if (auto stored = cfg_.db->states(rate_prefix)) {
      const auto now = wall_clock_ns();
      for (auto& [key, value] : *stored) {
        int64_t tat = 0;
        auto [end, ec] =
            std::from_chars(value.data(), value.data() + value.size(), tat);
        if (ec == std::errc{} && end == value.data() + value.size()
            && tat > now) {
          gc.rate_tats.emplace_back(key.substr(rate_prefix.size()), tat);
          continue;
        }
        store::state_op op;
        op.key = key; // an empty value removes it
        cfg_.journal->submit(std::move(op));
      }
    } else {
      std::cerr << "rouse: trigger \"" << def->name
                << "\": reading its rate buckets failed ("
                << describe(stored.error()) << "); they start full\n";
    }
    gc.remember_rate = [journal = cfg_.journal,
                        prefix = std::move(rate_prefix)](const std::string& key,
                                                         int64_t tat) {
      store::state_op op;
      op.key = prefix + key;
      // Keys past the store's limit are not kept: such a bucket starts full
      // after a restart.
      if (op.key.size() > 400)
        return;
      op.value = std::to_string(tat);
      journal->submit(std::move(op));
    };
    t.governor = spawn_governor(*cfg_.sys, std::move(gc));
  } else if (flow::settings_from(t.def->concurrency, t.def->flow) != policy) {
    caf::anon_send(t.governor, limit_atom::value, policy);
  }
  // Validated when the trigger was loaded; a failure here leaves runs
  // without keys (one key for the whole trigger).
  auto keys = flow::key_templates::compile(def->flow);
  t.keys = keys && keys->any()
               ? std::make_shared<const flow::key_templates>(std::move(*keys))
               : nullptr;
  t.def = std::move(def);
  t.origin = std::move(origin);
}

void trigger_set::publish() {
  auto table = std::make_shared<trigger_table>();
  std::vector<std::shared_ptr<const pattern::pattern>> patterns;
  auto add = [&](const live& t) {
    trigger_entry e;
    e.name = t.def->name;
    e.enabled = t.def->enabled;
    e.governor = t.governor;
    e.keys = t.keys;
    e.run_events = config::wants_run_events(t.def->on);
    if (e.run_events && e.enabled)
      table->run_events = true;
    e.handler = t.handler;
    e.exec = t.exec;
    e.timeout = t.timeout;
    e.origin = t.origin;
    e.def = t.def;
    table->by_name.emplace(e.name,
                           static_cast<uint32_t>(table->triggers.size()));
    table->triggers.push_back(std::move(e));
    patterns.push_back(t.def->pattern);
  };
  for (const auto& name : config_order_)
    add(live_.at(name));
  for (const auto& [name, t] : live_)
    if (t.origin != "config")
      add(t);
  table->matcher = match::make_pattern_matcher(std::move(patterns));
  registry_->store(std::move(table));
}

std::string trigger_set::render(const live& t) const {
  auto text = config::to_json(*t.def);
  // Append the read-only fields to the definition object.
  text.pop_back();
  json::object_writer extra;
  extra.field("origin", t.origin);
  if (t.origin == "config")
    extra.field("file", cfg_.config_file).field("line", int64_t{t.def->line});
  auto more = extra.finish();
  return text + "," + more.substr(1);
}

api::admin_reply trigger_set::list_triggers() {
  auto table = registry_->load();
  json::array_writer items;
  std::lock_guard<std::mutex> guard{mutex_};
  for (const auto& e : table->triggers)
    if (auto i = live_.find(e.name); i != live_.end())
      items.raw(render(i->second));
  json::object_writer w;
  w.raw("triggers", items.finish());
  return {200, w.finish()};
}

api::admin_reply trigger_set::get_trigger(std::string_view name) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = live_.find(std::string{name});
  if (i == live_.end())
    return error_reply(404, "no trigger \"" + std::string{name} + "\"");
  return {200, render(i->second)};
}

void trigger_set::commit(std::string name,
                         std::shared_ptr<const config::trigger_config> def,
                         int status, api::admin_done done) {
  store::trigger_op op;
  op.name = name;
  if (def)
    op.definition = config::to_json(*def);
  op.done = [this, name, def, status,
             done = std::move(done)](caf::error err) mutable {
    std::unique_lock<std::mutex> guard{mutex_};
    changing_.erase(name);
    if (err) {
      guard.unlock();
      return done(error_reply(api::status_for(err), describe(err)));
    }
    if (stopped_)
      return done(error_reply(503, "rouse is shutting down"));
    std::string body;
    if (def) {
      install(def, "api");
      body = render(live_.at(name));
    } else if (auto i = live_.find(name); i != live_.end()) {
      // Runs of the removed trigger that are still waiting for admission stay
      // pending in the store; running ones finish.
      if (i->second.governor)
        caf::anon_send_exit(i->second.governor,
                            caf::exit_reason::user_shutdown);
      live_.erase(i);
      json::object_writer w;
      w.field("deleted", name);
      body = w.finish();
    }
    publish();
    guard.unlock();
    done({status, std::move(body)});
  };
  cfg_.journal->submit(std::move(op));
}

void trigger_set::put_trigger(std::string_view body, std::string_view name,
                              api::admin_done done) {
  auto def = config::parse_trigger_json(body, cfg_.base_dir, name);
  if (!def)
    return done(error_reply(400, describe(def.error())));
  if (!name.empty() && def->name != name)
    return done(error_reply(
        400, "name: \"" + def->name + "\" differs from the name in the path, \""
                 + std::string{name} + "\""));
  if (auto problem = check_handler(*def); !problem.empty())
    return done(error_reply(400, problem));
  std::unique_lock<std::mutex> guard{mutex_};
  auto i = live_.find(def->name);
  if (i != live_.end() && i->second.origin == "config")
    return done(error_reply(
        409, "trigger \"" + def->name + "\" is defined in " + cfg_.config_file
                 + " (line " + std::to_string(i->second.def->line)
                 + ") and is read-only through the API; edit the file"));
  if (name.empty() && i != live_.end())
    return done(error_reply(409, "trigger \"" + def->name
                                     + "\" exists; use PUT /api/triggers/"
                                     + def->name + " to replace it"));
  if (!changing_.insert(def->name).second)
    return done(error_reply(409, "trigger \"" + def->name
                                     + "\" is being changed; retry"));
  int status = i == live_.end() ? 201 : 200;
  guard.unlock();
  auto n = def->name;
  commit(std::move(n),
         std::make_shared<const config::trigger_config>(std::move(*def)),
         status, std::move(done));
}

const trigger_set::live* trigger_set::claim(std::string_view name,
                                            std::string_view config_hint,
                                            api::admin_done& done) {
  auto i = live_.find(std::string{name});
  if (i == live_.end()) {
    done(error_reply(404, "no trigger \"" + std::string{name} + "\""));
    return nullptr;
  }
  if (i->second.origin == "config") {
    done(error_reply(409, "trigger \"" + std::string{name} + "\" is defined in "
                              + cfg_.config_file
                              + " and is read-only through the API; "
                              + std::string{config_hint}));
    return nullptr;
  }
  if (!changing_.insert(std::string{name}).second) {
    done(error_reply(409, "trigger \"" + std::string{name}
                              + "\" is being changed; retry"));
    return nullptr;
  }
  return &i->second;
}

void trigger_set::delete_trigger(std::string_view name, api::admin_done done) {
  std::unique_lock<std::mutex> guard{mutex_};
  if (claim(name, "edit the file", done) == nullptr)
    return;
  guard.unlock();
  commit(std::string{name}, nullptr, 200, std::move(done));
}

void trigger_set::set_enabled(std::string_view name, bool enabled,
                              api::admin_done done) {
  std::unique_lock<std::mutex> guard{mutex_};
  const auto* t = claim(name, "set enabled: in the file", done);
  if (t == nullptr)
    return;
  auto def = std::make_shared<config::trigger_config>(*t->def);
  def->enabled = enabled;
  guard.unlock();
  commit(std::string{name}, std::move(def), 200, std::move(done));
}

} // namespace rouse
