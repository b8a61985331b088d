// The configuration model (node settings, sources, triggers) and the loader
// that reads it from YAML, validating the whole file in one pass and reporting
// every problem with file, line, column and the dotted key path.
#pragma once

#include "runtime/config/parse.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace rouse::pattern {
struct pattern;
} // namespace rouse::pattern

namespace rouse::config {

/// When the journal reports an event as durable.
enum class durability_mode {
  /// After fsync of the LMDB commit: survives power loss; one fsync per batch.
  fsync,
  /// After the commit reaches the OS page cache: survives a crash of rouse,
  /// not of the machine; much cheaper on slow disks.
  os,
};

/// Settings of this rouse node (`node:` in the file).
struct node_config {
  /// Identifies the node in logs, metrics and federation. Default "rouse".
  std::string name = "rouse";
  /// Directory of the LMDB environment, resolved against the config file's
  /// directory. Default "./.rouse" next to the config file.
  std::string data_dir;
  /// Address the HTTP listener binds to (`listen: host:port`); IPv6 without
  /// brackets. Default 127.0.0.1. A non-loopback host requires `api_token`.
  std::string listen_host = "127.0.0.1";
  /// Port of the HTTP listener; 0 lets the OS pick. Default 7700.
  uint16_t listen_port = 7700;
  /// Bearer token for /api, resolved from `env:` or `file:`; empty if unset.
  /// Required when the listener is reachable beyond loopback.
  std::string api_token;
  /// Number of router shards, 1..64. Default 2. More shards route more events
  /// in parallel; each holds a copy of the compiled patterns.
  uint32_t shards = 2;
  /// When an event counts as durable. Default fsync.
  durability_mode durability = durability_mode::fsync;
  /// How long (source, id) pairs are remembered for dedup, whole seconds.
  /// Default 24h. Longer windows catch later redeliveries but keep more keys.
  std::chrono::seconds dedup_window{86400};
  /// LMDB map size in bytes, at least 1 MiB. Default 1 GiB. The store cannot
  /// grow past it (writes fail with storage_full); it costs address space,
  /// not disk, until used.
  uint64_t map_size_bytes = 1ull << 30;
  /// Mapped file pages (LMDB reads the store through mmap) above which a
  /// commit unmaps the store's pages; they stay in the page cache. Bounds the
  /// resident set when a workload touches a large store. 0: never. Default
  /// 256 MiB.
  uint64_t max_mapped_bytes = 256ull << 20;
  /// Largest HTTP request body accepted, in bytes, at least 1. Default 1 MiB.
  /// Larger bodies are answered 413 before they are buffered.
  uint64_t max_body_bytes = 1 << 20;
  /// HTTP I/O threads, 1..16. Default 1; raise for many slow connections.
  uint32_t http_threads = 1;
  /// Bytes of a handler's stdout and of its stderr kept per run; 0 keeps
  /// none. Default 64 KiB. Output past the cap is dropped, not buffered.
  uint64_t output_cap_bytes = 64 * 1024;
  /// Runs executing at once on this node across all triggers, 1..256. Default
  /// 128. Runs over it stay pending and start in order as others finish; the
  /// bound keeps the handler processes (4 descriptors each) within limits.
  uint32_t max_running = 128;
  /// Causation depth above which an event emitted by runs (through the API
  /// with a run token) is not run: every run it would start goes to the
  /// dead-letter queue with the chain of events that led to it, 1..1000.
  /// Default 8.
  uint32_t max_depth = 8;
  /// Events not yet routed plus runs admitted but not started (held by
  /// governors or waiting for an execution slot) above which webhooks and the
  /// API answer 503 with Retry-After, until the number falls below 3/4 of it:
  /// the bound that keeps memory flat when events come faster than handlers
  /// finish, 1..10,000,000. Default 100,000.
  uint32_t max_queued = 100'000;
  /// When run transitions are published as events (rouse.run.started,
  /// .succeeded, .failed, .dead, .waiting; source "rouse") so triggers can
  /// chain on runs: `auto` (default) while some trigger's pattern names them
  /// or some run waits for an event; `true` always; `false` never.
  enum class run_events_mode { automatic, always, never };
  run_events_mode run_events = run_events_mode::automatic;
};

/// One configured source. Its parameters are kept as YAML text until the
/// source kind that owns them validates them.
struct source_config {
  /// The source's key under `sources:`; its events carry it as `source`.
  std::string name;
  /// The source kind, e.g. "webhook" or "cron"; not checked here.
  std::string kind;
  /// 1-based line of the source's key in the file.
  int line = 0;
  /// The source's keys other than `kind`, as a YAML map in file order;
  /// "{}" if it has none.
  std::string params_yaml;
  /// Each parameter key with the 1-based line it is on, for diagnostics.
  std::vector<std::pair<std::string, int>> param_lines;
};

/// What a trigger runs: a process (`exec`) or a registered actor (`actor`).
/// Exactly one of `exec` and `actor` is set.
struct run_config {
  /// argv of the process (no shell); may hold `{{...}}` templates.
  std::vector<std::string> exec;
  /// Name of a C++ actor registered by the embedding program.
  std::string actor;
  /// Working directory, resolved against the config file's directory; empty
  /// means the daemon's working directory.
  std::string cwd;
  /// Extra environment variables for the process, in file order.
  std::vector<std::pair<std::string, std::string>> env;
  /// Time a run may take before SIGTERM; 0 means no limit. Default 15m.
  std::chrono::milliseconds timeout{15 * 60 * 1000};
  /// Time between SIGTERM and SIGKILL after a timeout. Default 5s.
  std::chrono::milliseconds kill_grace{5000};
};

/// When a failed run is tried again (`retry:`). The wait before attempt n+1
/// is backoff * 2^(n-1), capped at max_backoff, then shortened by a random
/// fraction of up to `jitter` so retries of many runs spread out.
struct retry_policy {
  /// Executions in total, 1..100; 1 (the default) means no retry. A run that
  /// fails its last attempt becomes `dead` (the dead-letter queue).
  uint32_t attempts = 1;
  /// Wait before the second attempt. Default 1s.
  std::chrono::milliseconds backoff{1000};
  /// Longest wait between attempts. Default 5m.
  std::chrono::milliseconds max_backoff{5 * 60 * 1000};
  /// Fraction 0..1 of the wait that may be cut at random. Default 0.2.
  double jitter = 0.2;
};

/// Flow control of one trigger beyond its concurrency limit: the policies its
/// governor applies between "matched" and "started" (docs/governors.md). A
/// `key` is a `{{path}}` template rendered against the event at routing time;
/// empty means the whole trigger is one key. A policy whose main number is 0
/// (rate.limit, debounce.period, batch.max_size, queue.max) is off.
struct flow_policy {
  /// Template of the key `concurrency` counts per; empty: the limit is for
  /// the whole trigger.
  std::string concurrency_key;

  /// Token bucket: at most `limit` runs start per `per`, in bursts of up to
  /// `limit`.
  struct rate_policy {
    uint32_t limit = 0;                  ///< 1..1,000,000; 0: no rate limit
    std::chrono::milliseconds per{1000}; ///< > 0
    std::string key;
    /// delay: a run over the rate waits for a token; drop: it is skipped.
    enum mode_t { delay, drop } mode = delay;
    /// The config spelling of each mode_t, in order.
    static constexpr std::array<std::string_view, 2> mode_names{"delay",
                                                                "drop"};
  } rate;

  /// Runs once with the last event of a burst, after `period` without a new
  /// one, but never more than `max_wait` after the burst's first event.
  struct debounce_policy {
    std::chrono::milliseconds period{0};   ///< > 0 when on
    std::chrono::milliseconds max_wait{0}; ///< 0: no cap; else >= period
    std::string key;
  } debounce;

  /// One run receives up to `max_size` events as an array: the batch starts
  /// when it is full or `max_wait` after its first event.
  struct batch_policy {
    uint32_t max_size = 0;                 ///< 1..10,000; 0: no batching
    std::chrono::milliseconds max_wait{0}; ///< > 0 when on
    std::string key;
  } batch;

  /// Higher priority starts first. `value` is an integer or a template that
  /// renders to one (empty: no priorities, journal order). Each `aging` a run
  /// waits adds 1 to its priority, so low priorities are not starved.
  struct priority_policy {
    std::string value;
    std::chrono::milliseconds aging{60'000}; ///< > 0
  } priority;

  /// At most one run per key queued or running.
  struct singleton_policy {
    bool enabled = false;
    std::string key;
    /// skip: a new run while one is active is skipped; cancel: the new run
    /// replaces a queued one, or stops a running one and starts after it.
    enum mode_t { skip, cancel } mode = skip;
    /// The config spelling of each mode_t, in order.
    static constexpr std::array<std::string_view, 2> mode_names{"skip",
                                                                "cancel"};
  } singleton;

  /// Bound on the runs waiting for a slot (or a token).
  struct queue_policy {
    uint32_t max = 0; ///< 1..10,000,000; 0: no bound but the node's
    /// reject: the new run goes to the dead-letter queue; drop_oldest: the
    /// oldest waiting run is skipped; latest_wins: the new run replaces the
    /// newest waiting run with its key (or the newest waiting run).
    enum on_full_t { reject, drop_oldest, latest_wins } on_full = reject;
    /// The config spelling of each on_full_t, in order.
    static constexpr std::array<std::string_view, 3> on_full_names{
        "reject", "drop_oldest", "latest_wins"};
  } queue;

  /// After `failures` consecutive failed runs, no run starts for `cool_off`;
  /// then one probe run: success closes the circuit, failure opens it again.
  struct circuit_policy {
    uint32_t failures = 0; ///< 1..1000; 0: no circuit breaker
    std::chrono::milliseconds cool_off{60'000}; ///< > 0
    /// queue: runs wait while open; dlq: new runs go to the dead-letter queue.
    enum mode_t { queue, dlq } mode = queue;
    /// The config spelling of each mode_t, in order.
    static constexpr std::array<std::string_view, 2> mode_names{"queue", "dlq"};
  } circuit;

  /// Spending limits per window of `per`: once `runs` runs started or their
  /// reported cost reached `cost` in the current window, no run starts (per
  /// key) until the next window or `rouse triggers resume`. Windows are
  /// aligned to the Unix epoch (a `1d` window starts at 00:00 UTC).
  struct budget_policy {
    uint64_t runs = 0;                         ///< 1..1e9; 0: no run budget
    double cost = 0;                           ///< > 0; 0: no cost budget
    std::chrono::milliseconds per{86'400'000}; ///< > 0
    std::string key;
    bool on() const noexcept { return runs > 0 || cost > 0; }
  } budget;

  friend bool operator==(const flow_policy& a, const flow_policy& b) {
    auto tie = [](const flow_policy& p) {
      return std::tie(p.concurrency_key, p.rate.limit, p.rate.per, p.rate.key,
                      p.rate.mode, p.debounce.period, p.debounce.max_wait,
                      p.debounce.key, p.batch.max_size, p.batch.max_wait,
                      p.batch.key, p.priority.value, p.priority.aging,
                      p.singleton.enabled, p.singleton.key, p.singleton.mode,
                      p.queue.max, p.queue.on_full, p.circuit.failures,
                      p.circuit.cool_off, p.circuit.mode, p.budget.runs,
                      p.budget.cost, p.budget.per, p.budget.key);
    };
    return tie(a) == tie(b);
  }
};

/// One trigger: which events it matches and what it runs for them.
struct trigger_config {
  /// The trigger's key under `triggers:`.
  std::string name;
  /// The `on` event pattern as compact JSON (EventBridge syntax, see
  /// docs/patterns.md); a YAML scalar under a field is a one-element list.
  std::string on;
  /// `on`, compiled; shared and immutable.
  std::shared_ptr<const pattern::pattern> pattern;
  /// The handler.
  run_config run;
  /// Runs of this trigger allowed at once; 0 means unlimited (the default).
  uint32_t concurrency = 0;
  /// Rate, debounce, batch, priority, singleton, queue and the concurrency
  /// key.
  flow_policy flow;
  /// Retries of failed runs.
  retry_policy retry;
  /// A disabled trigger is loaded and validated but matches nothing.
  bool enabled = true;
  /// Events emitted by this trigger's own runs do not start it again.
  bool ignore_self = false;
  /// 1-based line of the trigger's key in the file; 0 for a trigger that
  /// came from the API.
  int line = 0;
};

/// A validated configuration.
struct config {
  /// The file name as given to the loader, for messages.
  std::string file;
  /// Directory that relative paths were resolved against (absolute for
  /// load_file; as given for load_string).
  std::string base_dir;
  node_config node;
  /// Sources and triggers in file order.
  std::vector<source_config> sources;
  std::vector<trigger_config> triggers;
};

/// One problem found in a config file.
struct diagnostic {
  /// The file name as given to the loader.
  std::string file;
  /// 1-based position; 0 when the problem concerns the whole file.
  int line = 0;
  int column = 0;
  /// The dotted key path and what is wrong, e.g.
  /// `triggers.hello.run.timeout: invalid duration "5x" (...)`.
  std::string message;

  /// Returns "file:line:column: message", or "file: message" for line 0.
  std::string to_string() const;
};

/// The outcome of loading a config: `cfg` is set only if `errors` is empty.
struct load_result {
  std::optional<config> cfg;
  std::vector<diagnostic> errors;

  bool ok() const { return cfg.has_value() && errors.empty(); }
};

/// Reads and validates the file at `path`; relative paths in it resolve
/// against the file's directory. An unreadable file (or one over 4 MiB) is
/// one diagnostic with line 0.
load_result load_file(const std::string& path);

/// Validates the YAML `text`, naming it `file_name` in diagnostics and
/// resolving relative paths against `base_dir` (kept relative if empty).
/// Reports every error found, sorted by line and column.
load_result load_string(const std::string& text, const std::string& file_name,
                        const std::string& base_dir);

/// Returns the trigger defined by the JSON object `json` (the body of
/// POST /api/triggers, see docs/api.md), or an errc::invalid_input error whose
/// text starts with the JSON path of the problem, e.g.
/// `on.data.size: numeric needs an operator and a number`. Relative `cwd` and
/// command paths resolve against `base_dir`. A body without "name" takes
/// `default_name` (the name in a PUT path) when that is not empty.
caf::expected<trigger_config>
parse_trigger_json(std::string_view json, const std::string& base_dir,
                   std::string_view default_name = {});

/// Returns `trg` as the JSON object parse_trigger_json reads (compact).
std::string to_json(const trigger_config& trg);

/// Returns true if the `on` pattern (compact JSON) asks for rouse's own run
/// events: its top-level `source` lists "rouse", or its `type` lists a value
/// or prefix starting with "rouse.". Run events (source "rouse") reach only
/// such triggers, so a catch-all trigger does not run on its own runs.
bool wants_run_events(std::string_view on_json);

/// Returns `d` in the largest unit that divides it: "15m", "90s", "250ms".
std::string format_duration(std::chrono::milliseconds d);

} // namespace rouse::config
