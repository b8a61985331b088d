// The fast pattern matcher's public functions. It compiles each pattern into
// one contiguous program plus per-path indexes (machine_build.cpp,
// machine_index.cpp), finds candidate programs through the indexes and runs
// each candidate over the event's fields with the reference matcher's rules
// (machine_match.cpp).
#include "runtime/pattern/machine_builder.hpp"

#include <memory>
#include <type_traits>
#include <utility>

namespace rouse::pattern {

machine::machine(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

machine::~machine() = default;

std::shared_ptr<const machine>
machine::build(const std::vector<pattern>& patterns) {
  auto state = std::make_unique<impl>();
  detail::builder{*state}.build(patterns);
  return std::make_shared<const machine>(std::move(state));
}

std::size_t machine::size() const noexcept {
  return impl_->patterns;
}

std::size_t machine::unanchored() const noexcept {
  return impl_->unanchored;
}

std::size_t machine::programs() const noexcept {
  return impl_->programs;
}

std::size_t machine::memory_bytes() const noexcept {
  const impl& m = *impl_;
  auto bytes = [](const auto& v) {
    return v.capacity()
           * sizeof(typename std::decay_t<decltype(v)>::value_type);
  };
  std::size_t total =
      sizeof(impl) + bytes(m.paths) + bytes(m.indexes) + bytes(m.code)
      + bytes(m.always) + bytes(m.postings) + m.table.memory_bytes()
      + bytes(m.trie_nodes) + bytes(m.trie_bytes) + m.trie_labels.capacity()
      + bytes(m.numerics) + bytes(m.cidr_lens) + m.prefixes.memory_bytes();
  for (const auto& p : m.paths)
    if (p.capacity() > 15)
      total += p.capacity() + 1;
  for (const auto& ix : m.numerics)
    total += bytes(ix.ranges) + bytes(ix.lower) + bytes(ix.postings)
             + bytes(ix.tree);
  return total;
}

} // namespace rouse::pattern
