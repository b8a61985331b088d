// bench_lmdb_floor: the fastest durable ingest LMDB allows on this disk, with
// no HTTP and no rouse around it. Each commit does what the journal does per
// event (an MDB_APPEND of a ~1.5 KB value by sequence number, plus one put
// into an id index) for N events, then commits synchronously. With C
// closed-loop clients a commit carries about C/2 events (bench/README.md,
// ingest), so the N = 8 line bounds `bench/ingest/run.sh` at 16 connections
// and N = 32 at 64.
//
//   bench_lmdb_floor DIR [SECONDS] [N...]
//
// DIR must be on the disk under test (not tmpfs) and is emptied of LMDB files
// first. Defaults: 3 s per batch size, N = 1 8 16 32 64.
#include <lmdb.h>

#include <sys/vfs.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

constexpr long tmpfs_magic = 0x01021994;
constexpr long ramfs_magic = 0x858458f6;

[[noreturn]] void die(const std::string& what, int rc) {
  std::fprintf(stderr, "bench_lmdb_floor: %s: %s\n", what.c_str(),
               mdb_strerror(rc));
  std::exit(1);
}

void check(int rc, const char* what) {
  if (rc != 0)
    die(what, rc);
}

struct result {
  double ms_per_commit = 0;
  double events_per_s = 0;
};

// Commits batches of `per` events into a fresh environment in `dir` for
// `seconds`.
result measure(const std::string& dir, int per, double seconds) {
  std::filesystem::remove(dir + "/data.mdb");
  std::filesystem::remove(dir + "/lock.mdb");
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "mdb_env_create");
  check(mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs");
  check(mdb_env_set_mapsize(env, 8ull << 30), "mdb_env_set_mapsize");
  // The flags of rouse's store in `durability: fsync`.
  check(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0644), "mdb_env_open");
  MDB_txn* txn = nullptr;
  MDB_dbi events = 0;
  MDB_dbi ids = 0;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
  check(mdb_dbi_open(txn, "events", MDB_CREATE, &events), "open events");
  check(mdb_dbi_open(txn, "ids", MDB_CREATE, &ids), "open ids");
  check(mdb_txn_commit(txn), "commit");
  const std::string value(1550, 'x');
  const std::string source = "https://github.com/acme/widgets";
  uint64_t seq = 0;
  long commits = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    for (int i = 0; i < per; ++i) {
      ++seq;
      const uint64_t key_be = __builtin_bswap64(seq);
      MDB_val k{sizeof key_be, const_cast<uint64_t*>(&key_be)};
      MDB_val v{value.size(), const_cast<char*>(value.data())};
      check(mdb_put(txn, events, &k, &v, MDB_APPEND), "put event");
      // Two producers' counters interleaved, like wrk's two threads.
      auto id = "run-" + std::to_string(seq % 2) + "-" + std::to_string(seq / 2)
                + source;
      MDB_val ik{id.size(), id.data()};
      MDB_val iv{sizeof key_be, const_cast<uint64_t*>(&key_be)};
      check(mdb_put(txn, ids, &ik, &iv, 0), "put id");
    }
    check(mdb_txn_commit(txn), "commit");
    ++commits;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  mdb_env_close(env);
  std::filesystem::remove(dir + "/data.mdb");
  std::filesystem::remove(dir + "/lock.mdb");
  return {elapsed * 1000 / static_cast<double>(commits),
          static_cast<double>(commits) * per / elapsed};
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: bench_lmdb_floor DIR [SECONDS] [N...]\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  struct statfs fs {};
  if (ec || ::statfs(dir.c_str(), &fs) != 0) {
    std::fprintf(stderr, "bench_lmdb_floor: cannot use %s\n", dir.c_str());
    return 1;
  }
  if (fs.f_type == tmpfs_magic || fs.f_type == ramfs_magic) {
    std::fprintf(stderr,
                 "bench_lmdb_floor: %s is in memory; a flush is free there\n",
                 dir.c_str());
    return 1;
  }
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  std::vector<int> sizes;
  for (int i = 3; i < argc; ++i)
    sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty())
    sizes = {1, 8, 16, 32, 64};
  if (seconds <= 0) {
    std::fprintf(stderr, "bench_lmdb_floor: SECONDS must be positive\n");
    return 2;
  }
  for (int per : sizes) {
    if (per <= 0) {
      std::fprintf(stderr, "bench_lmdb_floor: N must be positive\n");
      return 2;
    }
    auto r = measure(dir, per, seconds);
    std::printf("events_per_commit=%d ms_per_commit=%.3f events_per_s=%.0f\n",
                per, r.ms_per_commit, r.events_per_s);
  }
  return 0;
}
