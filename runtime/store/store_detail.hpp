// Private helpers of the store's .cpp files (only runtime/store/store*.cpp
// include it): LMDB values from and to bytes, LMDB errors as caf::error, read
// transactions and cursors that close themselves, and walks over a database.
#pragma once

#include "messages/errc.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <lmdb.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rouse::store::detail {

inline constexpr std::string_view schema_key = "schema";

/// Returns `rc` as errc::storage_full (map or transaction full) or
/// errc::storage_failure, with `what` and LMDB's text.
caf::error lmdb_error(int rc, std::string_view what);

inline MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

inline MDB_val to_val(const std::vector<char>& v) {
  return MDB_val{v.size(), const_cast<char*>(v.data())};
}

inline std::string_view to_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
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

/// Calls `visit(key, value)` with the entries of `dbi` in key order, from the
/// first key not below `start` (from the first key when `start` is empty),
/// until `visit` returns false or an error or the entries end. `visit` returns
/// bool or caf::expected<bool>; its string_views live as long as `txn`. Returns
/// the error of `visit`, "open cursor", or "read cursor" when a step fails
/// other than by running out of entries.
template <class Visit>
caf::error for_each_entry(MDB_txn* txn, MDB_dbi dbi, std::string_view start,
                          Visit&& visit) {
  cursor cur{txn, dbi};
  if (cur.rc() != 0)
    return lmdb_error(cur.rc(), "open cursor");
  MDB_val k = to_val(start);
  MDB_val v;
  auto rc = cur.get(k, v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
  for (; rc == 0; rc = cur.get(k, v, MDB_NEXT)) {
    caf::expected<bool> go_on = visit(to_view(k), to_view(v));
    if (!go_on)
      return std::move(go_on.error());
    if (!*go_on)
      return {};
  }
  if (rc != MDB_NOTFOUND)
    return lmdb_error(rc, "read cursor");
  return {};
}

/// Does for_each_entry() in a read transaction of its own, so the walk sees
/// one snapshot. Returns "begin read" when the transaction does not begin.
template <class Visit>
caf::error for_each_entry(MDB_env* env, MDB_dbi dbi, std::string_view start,
                          Visit&& visit) {
  read_txn txn{env};
  if (txn.rc() != 0)
    return lmdb_error(txn.rc(), "begin read");
  return for_each_entry(txn.get(), dbi, start, std::forward<Visit>(visit));
}

} // namespace rouse::store::detail
