// The LMDB environment: opening it (named databases, schema version, last
// seq), write transactions, releasing the mapped pages, and stats. Each
// database's operations live in store_events.cpp, store_runs.cpp,
// store_timers.cpp and store_meta.cpp.
#include "runtime/store/store.hpp"

#include "runtime/store/codec.hpp"
#include "runtime/store/store_detail.hpp"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>

namespace rouse::store {

namespace detail {

caf::error lmdb_error(int rc, std::string_view what) {
  std::string text{what};
  text += ": ";
  text += mdb_strerror(rc);
  if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
    return make_error(errc::storage_full,
                      text + " (raise node.map_size in the config)");
  return make_error(errc::storage_failure, std::move(text));
}

} // namespace detail

using namespace detail;

namespace {

constexpr std::string_view schema_version = "1";

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

// --- write_txn ---------------------------------------------------------------

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

// --- store: open -------------------------------------------------------------

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

// --- store: write transactions and stats -------------------------------------

caf::expected<write_txn> store::begin_write() {
  MDB_txn* txn = nullptr;
  if (auto rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
    return lmdb_error(rc, "begin write transaction");
  return write_txn{this, txn, nullptr, last_seq() + 1};
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
