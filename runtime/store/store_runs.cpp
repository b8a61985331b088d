// Run records and the runs_by_state index (one key per run: its state byte,
// then its id): storing and replacing runs, and reading them by id, by state,
// by trigger and by event.
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

std::string state_key(run_state state, std::string_view run_id) {
  std::string key;
  key.reserve(1 + run_id.size());
  key += static_cast<char>(state);
  key += run_id;
  return key;
}

// Writes `run` to `runs_db` with mdb_put `flags` and adds it to the
// runs_by_state index; returns false, writing nothing, when MDB_NOOVERWRITE
// finds the id taken.
caf::expected<bool> write_run(MDB_txn* txn, MDB_dbi runs_db,
                              MDB_dbi runs_by_state_db, const run_record& run,
                              unsigned flags) {
  auto bytes = encode(run);
  MDB_val k = to_val(run.id);
  MDB_val v = to_val(bytes);
  auto rc = mdb_put(txn, runs_db, &k, &v, flags);
  if (rc == MDB_KEYEXIST)
    return false;
  if (rc != 0)
    return lmdb_error(rc, "store run");
  auto sk = state_key(run.current(), run.id);
  MDB_val skv = to_val(sk);
  MDB_val empty{0, nullptr};
  if ((rc = mdb_put(txn, runs_by_state_db, &skv, &empty, 0)) != 0)
    return lmdb_error(rc, "store run state index");
  return true;
}

} // namespace

caf::expected<bool> store::put_run_if_absent(write_txn& txn,
                                             const run_record& run) {
  return write_run(txn.txn_, runs_db_, runs_by_state_db_, run, MDB_NOOVERWRITE);
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
  auto written = write_run(txn.txn_, runs_db_, runs_by_state_db_, run, 0);
  if (!written)
    return std::move(written.error());
  return {};
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
    std::string prefix(1, static_cast<char>(*filter.state));
    auto collect = [&](std::string_view k, std::string_view) {
      if (!k.starts_with(prefix))
        return false;
      ids.emplace_back(k.substr(1));
      return true;
    };
    if (auto err =
            for_each_entry(txn.get(), runs_by_state_db_, prefix, collect))
      return err;
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

caf::expected<std::vector<run_record>>
store::runs_for_event(uint64_t seq) const {
  // Run ids start with the event's seq as 16 hex digits and a '-'
  // (make_run_id), so the runs of one event are one key range.
  auto prefix = make_run_id(seq, "");
  std::vector<run_record> result;
  auto read_run = [&](std::string_view k,
                      std::string_view v) -> caf::expected<bool> {
    if (!k.starts_with(prefix))
      return false;
    run_record run;
    if (auto err = decode(v, run))
      return err;
    result.push_back(std::move(run));
    return true;
  };
  if (auto err = for_each_entry(env_, runs_db_, prefix, read_run))
    return err;
  return result;
}

} // namespace rouse::store
