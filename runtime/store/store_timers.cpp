// The timers database: wakeups keyed by (due time, owner), stored, removed,
// read in key order and counted.
#include "runtime/store/store.hpp"

#include "runtime/store/codec.hpp"
#include "runtime/store/store_detail.hpp"

#include <lmdb.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace rouse::store {

using namespace detail;

namespace {

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

} // namespace

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

caf::expected<std::vector<wakeup>>
store::read_wakeups(const wakeup_key& from, std::size_t limit) const {
  std::vector<wakeup> result;
  if (limit == 0)
    return result;
  // A bound no stored key can have (a negative time, an over-long owner) is
  // clamped to one LMDB accepts; keys below `from` are skipped below.
  std::string start;
  put_u64_be(start, static_cast<uint64_t>(std::max<int64_t>(from.due_ns, 0)));
  start.append(from.owner, 0,
               std::min(from.owner.size(), max_wakeup_owner_bytes));
  result.reserve(std::min<std::size_t>(limit, 4096));
  auto read_wakeup = [&](std::string_view k,
                         std::string_view v) -> caf::expected<bool> {
    if (result.size() >= limit)
      return false;
    if (k.size() <= 8)
      return lmdb_error(MDB_CORRUPTED, "read wakeup");
    wakeup w;
    w.due_ns = static_cast<int64_t>(get_u64_be(k.data()));
    w.owner = k.substr(8);
    if (w.due_ns == from.due_ns && w.owner < from.owner)
      return true;
    w.payload = v;
    result.push_back(std::move(w));
    return true;
  };
  if (auto err = for_each_entry(env_, timers_db_, start, read_wakeup))
    return err;
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

} // namespace rouse::store
