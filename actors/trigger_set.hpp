// The live set of triggers: those of the config file (read-only) and those
// managed through the API (stored in LMDB). Owns each trigger's governor and
// handler, and publishes a new immutable trigger_table to the registry after
// every change. Also answers explain requests, which need the live table.
#pragma once

#include "actors/trigger_table.hpp"
#include "runtime/api/api.hpp"
#include "runtime/config/config.hpp"

#include <caf/fwd.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace rouse::store {
class journal;
class store;
} // namespace rouse::store

namespace rouse::exec {
class process_runner;
} // namespace rouse::exec

namespace rouse {

struct trigger_set_config {
  /// Must outlive the trigger set.
  caf::actor_system* sys = nullptr;
  store::store* db = nullptr;
  store::journal* journal = nullptr;
  std::shared_ptr<exec::process_runner> runner;
  /// Where governors send admitted runs.
  dispatcher_actor dispatcher;
  /// The config file (for messages) and the directory relative paths resolve
  /// against, for config and API triggers alike.
  std::string config_file;
  std::string base_dir;
  /// Passed to exec handlers.
  uint64_t output_cap_bytes = 64 * 1024;
  std::string api_url;
  /// Issues each run's ROUSE_RUN_TOKEN; may be null (no token).
  std::shared_ptr<const api::run_tokens> tokens;
  /// Handler actors registered by an embedding program, by name.
  std::vector<std::pair<std::string, handler_actor>> actor_handlers;
  /// Number of router shards (explain tells "not routed yet" from their
  /// checkpoints).
  uint32_t shards = 1;
  /// Runs held by all governors (backpressure); may be null.
  std::shared_ptr<std::atomic<int64_t>> held;
};

/// Thread safety: every member may be called from any thread; changes are
/// serialized by an internal mutex and take effect in commit order.
class trigger_set final : public api::trigger_admin {
public:
  trigger_set(trigger_set_config cfg, trigger_registry_ptr registry);
  ~trigger_set() override;

  /// Spawns the config's triggers and the API triggers stored in the database
  /// and publishes the first table. A stored trigger whose name the config
  /// now uses is shadowed (and reported in `warnings`); one that no longer
  /// validates is skipped with a warning.
  caf::error load(const std::vector<config::trigger_config>& from_config,
                  std::vector<std::string>& warnings);

  /// Stops every governor and exec handler. Idempotent.
  void stop();

  api::admin_reply list_triggers() override;
  api::admin_reply get_trigger(std::string_view name) override;
  void put_trigger(std::string_view body, std::string_view name,
                   api::admin_done done) override;
  void delete_trigger(std::string_view name, api::admin_done done) override;
  void set_enabled(std::string_view name, bool enabled,
                   api::admin_done done) override;
  void dlq_replay(std::string_view run_id, api::admin_done done) override;
  void dlq_drop(std::string_view run_id, api::admin_done done) override;
  void run_wake(std::string_view run_id, api::admin_done done) override;
  void run_cancel(std::string_view run_id, api::admin_done done) override;
  void run_wake_me(std::string_view run_id, int64_t due_ns,
                   std::string state_json, api::admin_done done) override;
  void resume_budget(std::string_view name, std::optional<std::string> key,
                     api::admin_done done) override;
  void budget_spent(std::string_view name, api::admin_done done) override;
  api::admin_reply explain(std::string_view event_id,
                           std::optional<std::string_view> source) override;

private:
  /// One trigger and the actors that serve it.
  struct live {
    std::shared_ptr<const config::trigger_config> def;
    std::string origin;
    governor_actor governor;
    handler_actor handler;
    exec_handler_actor exec;
    std::chrono::milliseconds timeout{0};
    std::shared_ptr<const flow::key_templates> keys;
  };

  /// Checks what only the host knows (registered actors); empty if fine.
  std::string check_handler(const config::trigger_config& def) const;
  /// Installs `def` (replacing a trigger of that name); mutex held.
  void install(std::shared_ptr<const config::trigger_config> def,
               std::string origin);
  /// Checks that `name` is an API trigger with no change in flight and marks
  /// it as changing; otherwise answers 404/409 through `done` (409 for a
  /// config trigger ends with `config_hint`) and returns null. Mutex held.
  const live* claim(std::string_view name, std::string_view config_hint,
                    api::admin_done& done);
  /// Builds and publishes a new table; mutex held.
  void publish();
  /// Stores `def` (or deletes `name` if null) and, once durable, installs the
  /// change and answers `status` through `done`.
  void commit(std::string name,
              std::shared_ptr<const config::trigger_config> def, int status,
              api::admin_done done);
  std::string render(const live& t) const;
  /// The governor and definition of `name` if it has a budget; otherwise
  /// answers 404/409 through `done` and returns no governor.
  std::pair<governor_actor, std::shared_ptr<const config::trigger_config>>
  with_budget(std::string_view name, api::admin_done& done);

  trigger_set_config cfg_;
  trigger_registry_ptr registry_;
  std::mutex mutex_;
  std::map<std::string, live> live_;
  /// Config trigger names in file order; the table lists them first, then the
  /// API triggers by name.
  std::vector<std::string> config_order_;
  /// Names with a change being committed; a second change gets 409.
  std::set<std::string> changing_;
  bool stopped_ = false;
};

} // namespace rouse
