// Record serialization through CAF's binary (de)serializer, which reuses the
// inspect() functions of messages/, so the stored layout and the wire layout
// are one definition.
#include "runtime/store/codec.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

namespace rouse::store {

void put_u64_be(std::string& out, uint64_t x) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out += static_cast<char>((x >> shift) & 0xFF);
}

uint64_t get_u64_be(const void* p) noexcept {
  auto b = static_cast<const unsigned char*>(p);
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i)
    x = (x << 8) | b[i];
  return x;
}

std::string u64_key(uint64_t x) {
  std::string s;
  s.reserve(8);
  put_u64_be(s, x);
  return s;
}

namespace {

template <class T>
std::vector<char> encode_impl(const T& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  // inspect() takes a non-const reference; serializing does not modify x.
  auto err = sink(const_cast<T&>(x));
  static_cast<void>(err); // serializing plain strings and integers cannot fail
  return buf;
}

template <class T>
caf::error decode_impl(std::string_view bytes, T& x) {
  caf::binary_deserializer source{nullptr, bytes.data(), bytes.size()};
  if (auto err = source(x))
    return make_error(errc::storage_failure,
                      "stored record is malformed: " + caf::to_string(err));
  return {};
}

} // namespace

std::vector<char> encode(const event& x) {
  return encode_impl(x);
}

std::vector<char> encode(const run_record& x) {
  return encode_impl(x);
}

caf::error decode(std::string_view bytes, event& x) {
  return decode_impl(bytes, x);
}

caf::error decode(std::string_view bytes, run_record& x) {
  // Fields are only ever appended, in groups. A record stored by an older
  // version ends after one of the groups: before `wait` (stored before runs
  // could wait), before `flow` (before flow control) or before the budget
  // key and cost (before budgets). The rest stays empty, so an upgrade keeps
  // every run.
  x = run_record{};
  caf::binary_deserializer f{nullptr, bytes.data(), bytes.size()};
  auto err = f(x.id, x.trigger, x.event_seq, x.event_id, x.event_type, x.state,
               x.attempt, x.exit_code, x.term_signal, x.stdout_text,
               x.stderr_text, x.output_truncated, x.error, x.created_ns,
               x.started_ns, x.finished_ns, x.history);
  auto more = [&] { return !err && f.remaining() > 0; };
  if (more())
    err = f(x.wait);
  if (more())
    err = f(x.flow.concurrency_key, x.flow.rate_key, x.flow.debounce_key,
            x.flow.batch_key, x.flow.singleton_key, x.flow.priority,
            x.flow.batch);
  if (more())
    err = f(x.flow.budget_key, x.cost);
  if (err)
    return make_error(errc::storage_failure,
                      "stored record is malformed: " + caf::to_string(err));
  if (f.remaining() != 0)
    return make_error(errc::storage_failure, "stored record is malformed: "
                                                 + std::to_string(f.remaining())
                                                 + " trailing bytes");
  return {};
}

} // namespace rouse::store
