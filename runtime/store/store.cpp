// LMDB environment, named databases and the read/write operations of the store.
#include "runtime/store/store.hpp"

#include "runtime/store/codec.hpp"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <tuple>
#include <utility>

namespace rouse::store {

namespace {

constexpr std::string_view schema_key = "schema";
constexpr std::string_view schema_version = "1";

caf::error lmdb_error(int rc, std::string_view what) {
  std::string text{what};
  text += ": ";
  text += mdb_strerror(rc);
  if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
    return make_error(errc::storage_full,
                      text + " (raise node.map_size in the config)");
  return make_error(errc::storage_failure, std::move(text));
}

MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

MDB_val to_val(const std::vector<char>& v) {
  return MDB_val{v.size(), const_cast<char*>(v.data())};
}

std::string_view to_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// The id index key: 4-byte big-endian length of id, id, source. Length-prefixed
// so no byte of id or source can make two pairs collide, and so a prefix finds
// every source.
std::string id_key(std::string_view id, std::string_view source) {
  std::string key;
  key.reserve(4 + id.size() + source.size());
  auto n = static_cast<uint32_t>(id.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    key += static_cast<char>((n >> shift) & 0xFF);
  key += id;
  key += source;
  return key;
}

std::string state_key(run_state state, std::string_view run_id) {
  std::string key;
  key.reserve(1 + run_id.size());
  key += static_cast<char>(state);
  key += run_id;
  return key;
}

// The timers key: 8 big-endian bytes of the due time, then the owner, so LMDB
// order is (due, owner) order.
caf::expected<std::string> timer_key(const wakeup_key& key) {
  if (key.due_ns < 0)
    return make_error(errc::invalid_input,
                      "wakeup of " + key.owner + " has a negative due time");
  if (key.owner.empty())
    return make_error(errc::invalid_input, "wakeup without an owner");
  if (key.owner.size() > max_wakeup_owner_bytes)
    return make_error(errc::invalid_input,
                      "wakeup owner is longer than "
                          + std::to_string(max_wakeup_owner_bytes) + " bytes");
  std::string bytes;
  bytes.reserve(8 + key.owner.size());
  put_u64_be(bytes, static_cast<uint64_t>(key.due_ns));
  bytes += key.owner;
  return bytes;
}

/// A read-only transaction that aborts when it goes out of scope.
class read_txn {
public:
  explicit read_txn(MDB_env* env) {
    rc_ = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_);
  }
  ~read_txn() {
    if (txn_ != nullptr)
      mdb_txn_abort(txn_);
  }
  read_txn(const read_txn&) = delete;
  read_txn& operator=(const read_txn&) = delete;
  int rc() const noexcept { return rc_; }
  MDB_txn* get() const noexcept { return txn_; }

private:
  MDB_txn* txn_ = nullptr;
  int rc_ = 0;
};

/// A cursor that closes when it goes out of scope.
class cursor {
public:
  cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &cur_); }
  ~cursor() {
    if (cur_ != nullptr)
      mdb_cursor_close(cur_);
  }
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;
  int rc() const noexcept { return rc_; }
  int get(MDB_val& k, MDB_val& v, MDB_cursor_op op) {
    return mdb_cursor_get(cur_, &k, &v, op);
  }

private:
  MDB_cursor* cur_ = nullptr;
  int rc_ = 0;
};

/// Bytes of file-backed and shared memory resident in this process
/// (/proc/self/statm's third field), or 0 if unknown.
uint64_t resident_shared_bytes() noexcept {
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  char buf[128];
  auto n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  unsigned long size = 0, resident = 0, shared = 0;
  if (std::sscanf(buf, "%lu %lu %lu", &size, &resident, &shared) != 3)
    return 0;
  return static_cast<uint64_t>(shared)
         * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

/// Where LMDB mapped `file` (its data.mdb) in this process: the first mapping
/// of that file in /proc/self/maps. LMDB maps the whole map size at once, and
/// mdb_env_info() reports the address only for MDB_FIXEDMAP environments.
std::pair<void*, std::size_t> find_mapping(const std::string& file) {
  std::error_code ec;
  auto target = std::filesystem::canonical(file, ec);
  if (ec)
    return {nullptr, 0};
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr)
    return {nullptr, 0};
  std::pair<void*, std::size_t> found{nullptr, 0};
  char line[4096 + 128];
  while (std::fgets(line, sizeof(line), maps) != nullptr) {
    unsigned long begin = 0, end = 0;
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &begin, &end, &path_at)
            < 2
        || path_at == 0)
      continue;
    std::string_view path{line + path_at};
    while (!path.empty() && (path.back() == '\n' || path.back() == ' '))
      path.remove_suffix(1);
    if (path == target.native()) {
      found = {reinterpret_cast<void*>(begin), end - begin};
      break;
    }
  }
  std::fclose(maps);
  return found;
}

} // namespace

// --- write_txn
// ----------------------------------------------------------------

write_txn::write_txn(write_txn&& other) noexcept
    : owner_(other.owner_), txn_(std::exchange(other.txn_, nullptr)),
      parent_(other.parent_), next_seq_(other.next_seq_) {}

write_txn& write_txn::operator=(write_txn&& other) noexcept {
  if (this != &other) {
    abort();
    owner_ = other.owner_;
    txn_ = std::exchange(other.txn_, nullptr);
    parent_ = other.parent_;
    next_seq_ = other.next_seq_;
  }
  return *this;
}

write_txn::~write_txn() {
  abort();
}

caf::error write_txn::commit() {
  if (txn_ == nullptr)
    return make_error(errc::storage_failure,
                      "commit of a finished transaction");
  auto rc = mdb_txn_commit(std::exchange(txn_, nullptr));
  if (rc != MDB_SUCCESS)
    return lmdb_error(rc, "commit");
  if (parent_ != nullptr)
    parent_->next_seq_ = next_seq_;
  else {
    owner_->last_seq_.store(next_seq_ - 1, std::memory_order_release);
    owner_->after_commit();
  }
  return {};
}

void write_txn::abort() noexcept {
  if (txn_ != nullptr)
    mdb_txn_abort(std::exchange(txn_, nullptr));
}

caf::expected<write_txn> write_txn::begin_child() {
  MDB_txn* child = nullptr;
  if (auto rc = mdb_txn_begin(owner_->env_, txn_, 0, &child); rc != 0)
    return lmdb_error(rc, "begin nested transaction");
  return write_txn{owner_, child, this, next_seq_};
}

// --- store: open
// ---------------------------------------------------------------

caf::expected<std::unique_ptr<store>> store::open(store_options opts) {
  std::unique_ptr<store> s{new store(std::move(opts))};
  if (auto err = s->init())
    return err;
  return s;
}

store::~store() {
  if (env_ != nullptr)
    mdb_env_close(env_);
}

caf::error store::init() {
  std::error_code ec;
  std::filesystem::create_directories(opts_.dir, ec);
  if (ec)
    return make_error(errc::storage_failure, "cannot create data directory "
                                                 + opts_.dir + ": "
                                                 + ec.message());
  if (auto rc = mdb_env_create(&env_); rc != 0)
    return lmdb_error(rc, "mdb_env_create");
  mdb_env_set_maxdbs(env_, 16);
  mdb_env_set_maxreaders(env_, 512);
  if (auto rc = mdb_env_set_mapsize(env_, opts_.map_size_bytes); rc != 0)
    return lmdb_error(rc, "set map size");
  // MDB_NOTLS: read transactions are not tied to threads, so Beast I/O threads
  // and actors can read freely. MDB_NOSYNC is the "os" durability mode.
  unsigned flags = MDB_NOTLS | (opts_.sync ? 0u : MDB_NOSYNC);
  if (auto rc = mdb_env_open(env_, opts_.dir.c_str(), flags, 0644); rc != 0)
    return lmdb_error(rc, "open store in " + opts_.dir);
  if (opts_.max_mapped_bytes != 0) {
    std::tie(map_base_, map_len_) = find_mapping(opts_.dir + "/data.mdb");
    // Only the map LMDB made: anything else would be a bug to unmap.
    if (map_len_ != opts_.map_size_bytes)
      map_base_ = nullptr;
  }
  // A process killed with -9 leaves its reader slots behind; reclaim them.
  int dead = 0;
  mdb_reader_check(env_, &dead);

  MDB_txn* txn = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
    return lmdb_error(rc, "begin setup transaction");
  auto open_db = [&](const char* name, unsigned& dbi) -> int {
    MDB_dbi handle = 0;
    auto rc = mdb_dbi_open(txn, name, MDB_CREATE, &handle);
    dbi = handle;
    return rc;
  };
  int rc = 0;
  if ((rc = open_db("events", events_db_)) || (rc = open_db("ids", ids_db_))
      || (rc = open_db("checkpoints", checkpoints_db_))
      || (rc = open_db("runs", runs_db_))
      || (rc = open_db("runs_by_state", runs_by_state_db_))
      || (rc = open_db("meta", meta_db_))
      || (rc = open_db("triggers", triggers_db_))
      || (rc = open_db("timers", timers_db_))) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "open databases");
  }
  MDB_val k = to_val(schema_key);
  MDB_val v;
  rc = mdb_get(txn, meta_db_, &k, &v);
  if (rc == MDB_NOTFOUND) {
    v = to_val(schema_version);
    rc = mdb_put(txn, meta_db_, &k, &v, 0);
  } else if (rc == 0 && to_view(v) != schema_version) {
    mdb_txn_abort(txn);
    return make_error(errc::schema_mismatch, "store in " + opts_.dir
                                                 + " has schema version "
                                                 + std::string{to_view(v)}
                                                 + ", this rouse reads version "
                                                 + std::string{schema_version});
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "read schema version");
  }
  {
    cursor cur{txn, events_db_};
    MDB_val key, val;
    if (cur.rc() == 0 && cur.get(key, val, MDB_LAST) == 0)
      last_seq_.store(get_u64_be(key.mv_data));
  }
  if ((rc = mdb_txn_commit(txn)) != 0)
    return lmdb_error(rc, "commit setup transaction");
  return {};
}

void store::after_commit() noexcept {
  if (opts_.max_mapped_bytes == 0)
    return;
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  if (now < next_map_check_ns_)
    return;
  next_map_check_ns_ = now + 10'000'000;
  release_map_if_over();
}

void store::note_write() noexcept {
  // Every write descends the B-tree through the map, and the kernel maps up
  // to 16 cached neighbours of each page it faults in (fault-around), so one
  // commit of thousands of random writes can map hundreds of MiB: check
  // inside long write transactions too. Dirty pages live in LMDB's own
  // buffers, not in the read-only map, so releasing it mid-transaction is as
  // safe as after the commit.
  if (opts_.max_mapped_bytes == 0 || ++writes_since_check_ < 256)
    return;
  writes_since_check_ = 0;
  release_map_if_over();
}

void store::release_map_if_over() noexcept {
  if (resident_shared_bytes() <= opts_.max_mapped_bytes)
    return;
  MDB_envinfo info;
  MDB_stat st;
  if (map_base_ == nullptr || mdb_env_info(env_, &info) != 0
      || mdb_env_stat(env_, &st) != 0)
    return;
  // The map is read-only and shared (no MDB_WRITEMAP): writes go through
  // pwrite, so dropping the mapping loses nothing, and a reader that touches a
  // page again faults it back in from the page cache with the same contents.
  auto used = static_cast<std::size_t>(info.me_last_pgno + 1) * st.ms_psize;
  if (::madvise(map_base_, std::min(used, map_len_), MADV_DONTNEED) == 0)
    map_trims_.fetch_add(1, std::memory_order_relaxed);
}

// --- store: writes
// ---------------------------------------------------------------

caf::expected<write_txn> store::begin_write() {
  MDB_txn* txn = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
    return lmdb_error(rc, "begin write transaction");
  return write_txn{this, txn, nullptr, last_seq() + 1};
}

caf::expected<append_result> store::append(write_txn& txn, event& ev,
                                           int64_t now_ns) {
  note_write();
  if (ev.id.empty() || ev.source.empty())
    return make_error(errc::invalid_input, "event needs an id and a source");
  if (ev.id.size() + ev.source.size() > max_id_and_source_bytes)
    return make_error(errc::invalid_input,
                      "id and source together are longer than "
                          + std::to_string(max_id_and_source_bytes) + " bytes");
  auto key = id_key(ev.id, ev.source);
  MDB_val k = to_val(key);
  MDB_val v;
  auto rc = mdb_get(txn.txn_, ids_db_, &k, &v);
  if (rc == 0 && v.mv_size == 16) {
    auto seq = get_u64_be(v.mv_data);
    auto at = static_cast<int64_t>(
        get_u64_be(static_cast<const char*>(v.mv_data) + 8));
    if (now_ns - at < opts_.dedup_window.count())
      return append_result{seq, true};
  } else if (rc != 0 && rc != MDB_NOTFOUND) {
    return lmdb_error(rc, "read id index");
  }
  ev.seq = txn.next_seq_;
  ev.received_ns = now_ns;
  auto bytes = encode(ev);
  auto seq_key = u64_key(ev.seq);
  MDB_val ek = to_val(seq_key);
  MDB_val ev_val = to_val(bytes);
  if ((rc = mdb_put(txn.txn_, events_db_, &ek, &ev_val, MDB_APPEND)) != 0)
    return lmdb_error(rc, "store event");
  std::string idx;
  put_u64_be(idx, ev.seq);
  put_u64_be(idx, static_cast<uint64_t>(now_ns));
  MDB_val iv = to_val(idx);
  if ((rc = mdb_put(txn.txn_, ids_db_, &k, &iv, 0)) != 0)
    return lmdb_error(rc, "store id index");
  ++txn.next_seq_;
  return append_result{ev.seq, false};
}

caf::error store::advance_checkpoint(write_txn& txn, std::string_view consumer,
                                     uint64_t seq) {
  MDB_val k = to_val(consumer);
  MDB_val v;
  auto rc = mdb_get(txn.txn_, checkpoints_db_, &k, &v);
  if (rc == 0 && v.mv_size == 8 && get_u64_be(v.mv_data) >= seq)
    return {};
  if (rc != 0 && rc != MDB_NOTFOUND)
    return lmdb_error(rc, "read checkpoint");
  auto bytes = u64_key(seq);
  MDB_val nv = to_val(bytes);
  if ((rc = mdb_put(txn.txn_, checkpoints_db_, &k, &nv, 0)) != 0)
    return lmdb_error(rc, "store checkpoint");
  return {};
}

caf::error store::put_trigger(write_txn& txn, std::string_view name,
                              std::string_view definition) {
  MDB_val k = to_val(name);
  MDB_val v = to_val(definition);
  if (auto rc = mdb_put(txn.txn_, triggers_db_, &k, &v, 0); rc != 0)
    return lmdb_error(rc, "store trigger");
  return {};
}

caf::expected<bool> store::delete_trigger(write_txn& txn,
                                          std::string_view name) {
  MDB_val k = to_val(name);
  auto rc = mdb_del(txn.txn_, triggers_db_, &k, nullptr);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0)
    return lmdb_error(rc, "delete trigger");
  return true;
}

caf::expected<bool> store::put_run_if_absent(write_txn& txn,
                                             const run_record& run) {
  auto bytes = encode(run);
  MDB_val k = to_val(run.id);
  MDB_val v = to_val(bytes);
  auto rc = mdb_put(txn.txn_, runs_db_, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST)
    return false;
  if (rc != 0)
    return lmdb_error(rc, "store run");
  auto sk = state_key(run.current(), run.id);
  MDB_val skv = to_val(sk);
  MDB_val empty{0, nullptr};
  if ((rc = mdb_put(txn.txn_, runs_by_state_db_, &skv, &empty, 0)) != 0)
    return lmdb_error(rc, "store run state index");
  return true;
}

caf::error store::put_run(write_txn& txn, const run_record& run) {
  MDB_val k = to_val(run.id);
  MDB_val old;
  auto rc = mdb_get(txn.txn_, runs_db_, &k, &old);
  if (rc == 0) {
    run_record previous;
    if (auto err = decode(to_view(old), previous))
      return err;
    if (previous.state != run.state) {
      auto sk = state_key(previous.current(), run.id);
      MDB_val skv = to_val(sk);
      rc = mdb_del(txn.txn_, runs_by_state_db_, &skv, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_error(rc, "update run state index");
    }
  } else if (rc != MDB_NOTFOUND) {
    return lmdb_error(rc, "read run");
  }
  auto bytes = encode(run);
  MDB_val v = to_val(bytes);
  if ((rc = mdb_put(txn.txn_, runs_db_, &k, &v, 0)) != 0)
    return lmdb_error(rc, "store run");
  auto sk = state_key(run.current(), run.id);
  MDB_val skv = to_val(sk);
  MDB_val empty{0, nullptr};
  if ((rc = mdb_put(txn.txn_, runs_by_state_db_, &skv, &empty, 0)) != 0)
    return lmdb_error(rc, "store run state index");
  return {};
}

caf::error store::put_wakeup(write_txn& txn, const wakeup& w) {
  note_write();
  auto key = timer_key(wakeup_key{w.due_ns, w.owner});
  if (!key)
    return std::move(key.error());
  MDB_val k = to_val(*key);
  MDB_val v = to_val(w.payload);
  if (auto rc = mdb_put(txn.txn_, timers_db_, &k, &v, 0); rc != 0)
    return lmdb_error(rc, "store wakeup");
  return {};
}

caf::expected<bool> store::delete_wakeup(write_txn& txn,
                                         const wakeup_key& key) {
  note_write();
  auto bytes = timer_key(key);
  if (!bytes)
    return std::move(bytes.error());
  MDB_val k = to_val(*bytes);
  auto rc = mdb_del(txn.txn_, timers_db_, &k, nullptr);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0)
    return lmdb_error(rc, "delete wakeup");
  return true;
}

// --- store: reads
// ------------------------------------------------------------------

caf::expected<std::optional<event>> store::get_event(uint64_t seq) const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  auto key = u64_key(seq);
  MDB_val k = to_val(key);
  MDB_val v;
  auto rc = mdb_get(txn.get(), events_db_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<event>{};
  if (rc != 0)
    return lmdb_error(rc, "read event");
  event ev;
  if (auto err = decode(to_view(v), ev))
    return err;
  return std::optional<event>{std::move(ev)};
}

caf::expected<std::vector<event>>
store::find_events(std::string_view id) const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  auto prefix = id_key(id, "");
  cursor cur{txn.get(), ids_db_};
  if (cur.rc() != 0)
    return lmdb_error(cur.rc(), "open cursor");
  std::vector<uint64_t> seqs;
  MDB_val k = to_val(prefix);
  MDB_val v;
  for (auto rc = cur.get(k, v, MDB_SET_RANGE); rc == 0;
       rc = cur.get(k, v, MDB_NEXT)) {
    if (!to_view(k).starts_with(prefix))
      break;
    if (v.mv_size == 16)
      seqs.push_back(get_u64_be(v.mv_data));
  }
  std::sort(seqs.begin(), seqs.end());
  std::vector<event> result;
  for (auto seq : seqs) {
    auto key = u64_key(seq);
    MDB_val ek = to_val(key);
    MDB_val ev_val;
    if (mdb_get(txn.get(), events_db_, &ek, &ev_val) != 0)
      continue;
    event ev;
    if (auto err = decode(to_view(ev_val), ev))
      return err;
    result.push_back(std::move(ev));
  }
  return result;
}

caf::expected<std::vector<event>> store::read_events(uint64_t from_seq,
                                                     std::size_t limit) const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  cursor cur{txn.get(), events_db_};
  if (cur.rc() != 0)
    return lmdb_error(cur.rc(), "open cursor");
  std::vector<event> result;
  auto start = u64_key(from_seq);
  MDB_val k = to_val(start);
  MDB_val v;
  for (auto rc = cur.get(k, v, MDB_SET_RANGE); rc == 0 && result.size() < limit;
       rc = cur.get(k, v, MDB_NEXT)) {
    event ev;
    if (auto err = decode(to_view(v), ev))
      return err;
    result.push_back(std::move(ev));
  }
  return result;
}

caf::expected<std::optional<run_record>>
store::get_run(std::string_view id) const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  if (id.empty() || id.size() > 511)
    return std::optional<run_record>{};
  MDB_val k = to_val(id);
  MDB_val v;
  auto rc = mdb_get(txn.get(), runs_db_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<run_record>{};
  if (rc != 0)
    return lmdb_error(rc, "read run");
  run_record run;
  if (auto err = decode(to_view(v), run))
    return err;
  return std::optional<run_record>{std::move(run)};
}

caf::expected<std::vector<run_record>>
store::list_runs(const run_filter& filter) const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  std::vector<run_record> result;
  auto keep = [&](std::string_view bytes) -> caf::error {
    run_record run;
    if (auto err = decode(bytes, run))
      return err;
    if (filter.trigger.empty() || run.trigger == filter.trigger)
      result.push_back(std::move(run));
    return {};
  };
  if (filter.state) {
    // Collect the state's run ids, then walk them newest first.
    std::vector<std::string> ids;
    cursor cur{txn.get(), runs_by_state_db_};
    if (cur.rc() != 0)
      return lmdb_error(cur.rc(), "open cursor");
    std::string prefix(1, static_cast<char>(*filter.state));
    MDB_val k = to_val(prefix);
    MDB_val v;
    for (auto rc = cur.get(k, v, MDB_SET_RANGE); rc == 0;
         rc = cur.get(k, v, MDB_NEXT)) {
      auto key = to_view(k);
      if (key.empty() || key[0] != prefix[0])
        break;
      ids.emplace_back(key.substr(1));
    }
    for (auto i = ids.rbegin(); i != ids.rend() && result.size() < filter.limit;
         ++i) {
      MDB_val rk = to_val(*i);
      MDB_val rv;
      if (mdb_get(txn.get(), runs_db_, &rk, &rv) == 0)
        if (auto err = keep(to_view(rv)))
          return err;
    }
    return result;
  }
  cursor cur{txn.get(), runs_db_};
  if (cur.rc() != 0)
    return lmdb_error(cur.rc(), "open cursor");
  MDB_val k, v;
  for (auto rc = cur.get(k, v, MDB_LAST);
       rc == 0 && result.size() < filter.limit; rc = cur.get(k, v, MDB_PREV))
    if (auto err = keep(to_view(v)))
      return err;
  return result;
}

caf::expected<std::vector<run_record>>
store::runs_in_state(run_state state) const {
  run_filter filter;
  filter.state = state;
  filter.limit = static_cast<std::size_t>(-1);
  auto runs = list_runs(filter);
  if (runs)
    std::reverse(runs->begin(), runs->end());
  return runs;
}

caf::expected<uint64_t> store::checkpoint(std::string_view consumer) const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  MDB_val k = to_val(consumer);
  MDB_val v;
  auto rc = mdb_get(txn.get(), checkpoints_db_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return uint64_t{0};
  if (rc != 0 || v.mv_size != 8)
    return lmdb_error(rc != 0 ? rc : MDB_CORRUPTED, "read checkpoint");
  return get_u64_be(v.mv_data);
}

caf::expected<std::vector<std::pair<std::string, uint64_t>>>
store::checkpoints() const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  cursor cur{txn.get(), checkpoints_db_};
  if (cur.rc() != 0)
    return lmdb_error(cur.rc(), "open cursor");
  std::vector<std::pair<std::string, uint64_t>> result;
  MDB_val k, v;
  for (auto rc = cur.get(k, v, MDB_FIRST); rc == 0;
       rc = cur.get(k, v, MDB_NEXT))
    if (v.mv_size == 8)
      result.emplace_back(std::string{to_view(k)}, get_u64_be(v.mv_data));
  return result;
}

// --- budgets -----------------------------------------------------------------
//
// A budget key's usage lives in `meta` under "budget\x1f<trigger>\x1f<key>"
// (a key over 300 bytes is replaced by "#" and its FNV-1a hash so the LMDB key
// stays short; so is a key starting with '#', so a short key never takes the
// slot of a long one), as 8 bytes window, 8 bytes runs, 8 bytes cost (IEEE
// double), then the key itself.

namespace {

constexpr std::string_view budget_prefix = "budget\x1f";

std::string budget_db_key(std::string_view trigger, std::string_view key) {
  std::string k{budget_prefix};
  k.append(trigger).push_back('\x1f');
  if (key.size() <= 300 && !key.starts_with('#')) {
    k.append(key);
    return k;
  }
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key)
    h = (h ^ c) * 1099511628211ull;
  char hex[17];
  for (int i = 15; i >= 0; --i, h >>= 4)
    hex[i] = "0123456789abcdef"[h & 15];
  hex[16] = '\0';
  k.append("#").append(hex);
  return k;
}

std::string encode_budget(const budget_usage& u) {
  std::string v;
  v.reserve(24 + u.key.size());
  uint64_t cost_bits = 0;
  std::memcpy(&cost_bits, &u.cost, 8);
  put_u64_be(v, static_cast<uint64_t>(u.window_ns));
  put_u64_be(v, u.runs);
  put_u64_be(v, cost_bits);
  v.append(u.key);
  return v;
}

std::optional<budget_usage> decode_budget(std::string_view v) {
  if (v.size() < 24)
    return std::nullopt;
  budget_usage u;
  u.window_ns = static_cast<int64_t>(get_u64_be(v.data()));
  u.runs = get_u64_be(v.data() + 8);
  uint64_t cost_bits = get_u64_be(v.data() + 16);
  std::memcpy(&u.cost, &cost_bits, 8);
  u.key = std::string{v.substr(24)};
  return u;
}

} // namespace

caf::error store::charge_budget(write_txn& txn, std::string_view trigger,
                                const budget_usage& delta) {
  auto key = budget_db_key(trigger, delta.key);
  MDB_val k = to_val(key);
  MDB_val v;
  budget_usage u;
  u.key = delta.key;
  u.window_ns = delta.window_ns;
  if (auto rc = mdb_get(txn.txn_, meta_db_, &k, &v); rc == 0) {
    auto old = decode_budget(to_view(v));
    if (old && old->window_ns == delta.window_ns) {
      u.runs = old->runs;
      u.cost = old->cost;
    } else if (old && old->window_ns > delta.window_ns) {
      return {}; // a charge for a window already over: it no longer counts
    }
  } else if (rc != MDB_NOTFOUND) {
    return lmdb_error(rc, "read budget");
  }
  u.runs += delta.runs;
  u.cost += delta.cost;
  return put_budget(txn, trigger, u);
}

caf::error store::put_budget(write_txn& txn, std::string_view trigger,
                             const budget_usage& usage) {
  auto key = budget_db_key(trigger, usage.key);
  auto value = encode_budget(usage);
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  if (auto rc = mdb_put(txn.txn_, meta_db_, &k, &v, 0); rc != 0)
    return lmdb_error(rc, "store budget");
  return {};
}

caf::expected<std::vector<budget_usage>>
store::budgets(std::string_view trigger) const {
  auto prefix = budget_db_key(trigger, "");
  std::vector<budget_usage> result;
  if (auto err = scan_meta(prefix, [&](std::string_view, std::string_view v) {
        if (auto u = decode_budget(v))
          result.push_back(std::move(*u));
      }))
    return err;
  return result;
}

caf::error store::scan_meta(
    std::string_view prefix,
    const std::function<void(std::string_view, std::string_view)>& f) const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  cursor cur{txn.get(), meta_db_};
  if (cur.rc() != 0)
    return lmdb_error(cur.rc(), "open cursor");
  MDB_val k = to_val(prefix);
  MDB_val v;
  for (auto rc = cur.get(k, v, MDB_SET_RANGE);
       rc == 0 && to_view(k).starts_with(prefix); rc = cur.get(k, v, MDB_NEXT))
    f(to_view(k), to_view(v));
  return {};
}

caf::error store::put_state(write_txn& txn, std::string_view key,
                            std::string_view value) {
  if (key.empty() || key.size() > 400 || key == schema_key)
    return make_error(errc::invalid_input,
                      "state key must be 1 to 400 bytes and not \"schema\"");
  MDB_val k = to_val(key);
  if (value.empty()) {
    if (auto rc = mdb_del(txn.txn_, meta_db_, &k, nullptr);
        rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error(rc, "remove state");
    return {};
  }
  MDB_val v = to_val(value);
  if (auto rc = mdb_put(txn.txn_, meta_db_, &k, &v, 0); rc != 0)
    return lmdb_error(rc, "store state");
  return {};
}

caf::expected<std::vector<std::pair<std::string, std::string>>>
store::states(std::string_view prefix) const {
  std::vector<std::pair<std::string, std::string>> result;
  if (prefix.empty())
    return result;
  if (auto err = scan_meta(prefix, [&](std::string_view k, std::string_view v) {
        result.emplace_back(std::string{k}, std::string{v});
      }))
    return err;
  return result;
}

caf::expected<std::optional<std::string>>
store::get_state(std::string_view key) const {
  if (key.empty() || key.size() > 400)
    return std::optional<std::string>{};
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  MDB_val k = to_val(key);
  MDB_val v;
  auto rc = mdb_get(txn.get(), meta_db_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<std::string>{};
  if (rc != 0)
    return lmdb_error(rc, "read state");
  return std::optional<std::string>{std::string{to_view(v)}};
}

caf::expected<std::vector<run_record>>
store::runs_for_event(uint64_t seq) const {
  // Run ids start with the event's seq as 16 hex digits and a '-'
  // (make_run_id), so the runs of one event are one key range.
  auto prefix = make_run_id(seq, "");
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  cursor cur{txn.get(), runs_db_};
  if (cur.rc() != 0)
    return lmdb_error(cur.rc(), "open cursor");
  std::vector<run_record> result;
  MDB_val k = to_val(prefix);
  MDB_val v;
  for (auto rc = cur.get(k, v, MDB_SET_RANGE);
       rc == 0 && to_view(k).starts_with(prefix);
       rc = cur.get(k, v, MDB_NEXT)) {
    run_record run;
    if (auto err = decode(to_view(v), run))
      return err;
    result.push_back(std::move(run));
  }
  return result;
}

caf::expected<std::vector<std::pair<std::string, std::string>>>
store::triggers() const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  cursor cur{txn.get(), triggers_db_};
  if (cur.rc() != 0)
    return lmdb_error(cur.rc(), "open cursor");
  std::vector<std::pair<std::string, std::string>> result;
  MDB_val k, v;
  for (auto rc = cur.get(k, v, MDB_FIRST); rc == 0;
       rc = cur.get(k, v, MDB_NEXT))
    result.emplace_back(std::string{to_view(k)}, std::string{to_view(v)});
  return result;
}

caf::expected<std::vector<wakeup>>
store::read_wakeups(const wakeup_key& from, std::size_t limit) const {
  std::vector<wakeup> result;
  if (limit == 0)
    return result;
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  cursor cur{txn.get(), timers_db_};
  if (cur.rc() != 0)
    return lmdb_error(cur.rc(), "open cursor");
  // A bound no stored key can have (a negative time, an over-long owner) is
  // clamped to one LMDB accepts; keys below `from` are skipped below.
  std::string start;
  put_u64_be(start, static_cast<uint64_t>(std::max<int64_t>(from.due_ns, 0)));
  start.append(from.owner, 0,
               std::min(from.owner.size(), max_wakeup_owner_bytes));
  MDB_val k = to_val(start);
  MDB_val v;
  result.reserve(std::min<std::size_t>(limit, 4096));
  for (auto rc = cur.get(k, v, MDB_SET_RANGE); rc == 0 && result.size() < limit;
       rc = cur.get(k, v, MDB_NEXT)) {
    if (k.mv_size <= 8)
      return lmdb_error(MDB_CORRUPTED, "read wakeup");
    wakeup w;
    w.due_ns = static_cast<int64_t>(get_u64_be(k.mv_data));
    w.owner = to_view(k).substr(8);
    if (w.due_ns == from.due_ns && w.owner < from.owner)
      continue;
    w.payload = to_view(v);
    result.push_back(std::move(w));
  }
  return result;
}

caf::expected<uint64_t> store::count_wakeups() const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  MDB_stat st;
  if (auto rc = mdb_stat(txn.get(), timers_db_, &st); rc != 0)
    return lmdb_error(rc, "count wakeups");
  return uint64_t{st.ms_entries};
}

caf::expected<store_stats> store::stats() const {
  read_txn txn{env_};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  store_stats result;
  MDB_stat st;
  if (mdb_stat(txn.get(), events_db_, &st) == 0)
    result.events = st.ms_entries;
  if (mdb_stat(txn.get(), runs_db_, &st) == 0)
    result.runs = st.ms_entries;
  MDB_envinfo info;
  MDB_stat env_st;
  if (mdb_env_info(env_, &info) == 0 && mdb_env_stat(env_, &env_st) == 0) {
    result.map_size_bytes = info.me_mapsize;
    result.used_bytes = (info.me_last_pgno + 1) * env_st.ms_psize;
  }
  result.last_seq = last_seq();
  result.map_trims = map_trims_.load(std::memory_order_relaxed);
  return result;
}

} // namespace rouse::store
