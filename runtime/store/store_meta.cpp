// The store's small keyed records: consumer checkpoints, API trigger
// definitions, and the meta database's component state and budget usage.
#include "runtime/store/store.hpp"

#include "runtime/store/codec.hpp"
#include "runtime/store/store_detail.hpp"

#include <lmdb.h>

#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rouse::store {

using namespace detail;

// --- checkpoints -------------------------------------------------------------

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
  std::vector<std::pair<std::string, uint64_t>> result;
  auto read_checkpoint = [&](std::string_view k, std::string_view v) {
    if (v.size() == 8)
      result.emplace_back(std::string{k}, get_u64_be(v.data()));
    return true;
  };
  if (auto err = for_each_entry(env_, checkpoints_db_, "", read_checkpoint))
    return err;
  return result;
}

// --- API triggers ------------------------------------------------------------

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

caf::expected<std::vector<std::pair<std::string, std::string>>>
store::triggers() const {
  std::vector<std::pair<std::string, std::string>> result;
  auto read_trigger = [&](std::string_view k, std::string_view v) {
    result.emplace_back(std::string{k}, std::string{v});
    return true;
  };
  if (auto err = for_each_entry(env_, triggers_db_, "", read_trigger))
    return err;
  return result;
}

// --- meta: component state ---------------------------------------------------

caf::error store::scan_meta(
    std::string_view prefix,
    const std::function<void(std::string_view, std::string_view)>& f) const {
  auto visit = [&](std::string_view k, std::string_view v) {
    if (!k.starts_with(prefix))
      return false;
    f(k, v);
    return true;
  };
  return for_each_entry(env_, meta_db_, prefix, visit);
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

} // namespace rouse::store
