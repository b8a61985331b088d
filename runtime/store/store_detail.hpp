// Private helpers of the store's .cpp files (only runtime/store/store*.cpp
// include it): LMDB values from and to bytes, LMDB errors as caf::error, and
// read transactions and cursors that close themselves.
#pragma once

#include "messages/errc.hpp"

#include <lmdb.h>

#include <string>
#include <string_view>
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

} // namespace rouse::store::detail
