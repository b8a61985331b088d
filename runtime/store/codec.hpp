// Byte encodings for LMDB keys and values: big-endian integers (so LMDB's byte
// order is numeric order) and CAF binary serialization of records through their
// inspect().
#pragma once

#include "messages/errc.hpp"
#include "messages/event.hpp"
#include "messages/run.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::store {

/// Appends `x` as 8 big-endian bytes.
void put_u64_be(std::string& out, uint64_t x);

/// Reads 8 big-endian bytes at `p`.
uint64_t get_u64_be(const void* p) noexcept;

/// Returns `x` as 8 big-endian bytes.
std::string u64_key(uint64_t x);

/// Serializes an event or run record. Never fails for these types.
std::vector<char> encode(const event& x);
std::vector<char> encode(const run_record& x);

/// Deserializes bytes written by encode(); errc::storage_failure on malformed
/// bytes.
caf::error decode(std::string_view bytes, event& x);
caf::error decode(std::string_view bytes, run_record& x);

} // namespace rouse::store
