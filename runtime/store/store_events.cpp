// The events database and its id index: appending an event unless its
// (source, id) is a duplicate within the dedup window, and reading events by
// seq, by id and in seq order.
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

} // namespace

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
  std::vector<uint64_t> seqs;
  auto collect = [&](std::string_view k, std::string_view v) {
    if (!k.starts_with(prefix))
      return false;
    if (v.size() == 16)
      seqs.push_back(get_u64_be(v.data()));
    return true;
  };
  if (auto err = for_each_entry(txn.get(), ids_db_, prefix, collect))
    return err;
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
  std::vector<event> result;
  auto read_event = [&](std::string_view,
                        std::string_view v) -> caf::expected<bool> {
    if (result.size() >= limit)
      return false;
    event ev;
    if (auto err = decode(v, ev))
      return err;
    result.push_back(std::move(ev));
    return true;
  };
  auto start = u64_key(from_seq);
  if (auto err = for_each_entry(env_, events_db_, start, read_event))
    return err;
  return result;
}

} // namespace rouse::store
