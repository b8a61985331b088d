// Flattens events into sorted leaf fields with simdjson DOM. The walk writes
// each leaf's path and text straight into the flat_event's byte buffer and its
// record into a per-thread list, sorts the records by path, and copies them
// into the flat_event in that order.
#include "runtime/pattern/flatten.hpp"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace rouse::pattern {

namespace {

namespace dom = simdjson::dom;

/// A leaf's place in the sort: the first 24 bytes of its path as big-endian
/// words, zero-padded (so comparing words orders paths as strings do, except
/// that equal words leave it open), and the leaf's index.
struct sort_entry {
  uint64_t words[3];
  std::size_t index;
};

uint64_t load_big_endian(const char* p) noexcept {
  uint64_t x;
  std::memcpy(&x, p, sizeof(x));
  if constexpr (std::endian::native == std::endian::little)
    x = __builtin_bswap64(x);
  return x;
}

} // namespace

/// Walks one event into a flat_event. Per-thread buffers (the path being
/// walked, the leaf records, array positions, sort entries, two parsers) are
/// reused across calls, so that flattening allocates nothing of its own once
/// they have grown.
class flattener {
public:
  using entry = flat_event::entry;

  /// Starts a new event into `out`, which must outlive finish().
  void begin(flat_event& out) {
    out_ = &out;
    out.entries_.clear();
    out.bytes_.clear();
    out.positions_.clear();
    path_.clear();
    stack_.clear();
    leaves_.clear();
    order_.clear();
    next_array_id_ = 0;
  }

  /// Adds a string leaf.
  void add_string(std::string_view path, std::string_view text) {
    path_.assign(path);
    add_leaf(value_kind::string, text, 0);
  }

  /// Walks `json` found at `path`; invalid JSON adds nothing.
  void walk_json(dom::parser& parser, const std::string& json,
                 std::string_view path) {
    dom::element doc;
    // Copies `json` into the parser's own padded buffer, reused across calls.
    if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS)
      return;
    path_.assign(path);
    walk(doc);
  }

  /// Sorts the leaves by path (stably) into the flat_event.
  void finish();

  /// Releases the buffers if a large event grew them past what is worth
  /// keeping for the next call.
  void trim() {
    constexpr std::size_t keep_bytes = std::size_t{1} << 20;
    if (path_.capacity() + stack_.capacity() * sizeof(array_position)
            + leaves_.capacity() * sizeof(entry)
            + order_.capacity() * sizeof(sort_entry)
        > keep_bytes) {
      path_ = {};
      stack_ = {};
      leaves_ = {};
      order_ = {};
    }
  }

  dom::parser data_parser;
  dom::parser extension_parser;

private:
  /// Returns <0, 0 or >0 as the path of `a` sorts before, with or after that of
  /// `b`, comparing eight bytes at a time (paths are often long and share long
  /// prefixes such as "data.repository."). `bytes` must hold 8 bytes past the
  /// end of every path.
  static int compare_paths(const char* bytes, const entry& a,
                           const entry& b) noexcept {
    const char* x = bytes + a.path_begin;
    const char* y = bytes + b.path_begin;
    std::size_t n = std::min(a.path_size, b.path_size);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t u = load_big_endian(x + i);
      uint64_t v = load_big_endian(y + i);
      if (u != v)
        return u < v ? -1 : 1;
    }
    if (i < n) {
      unsigned shift = static_cast<unsigned>(64 - 8 * (n - i));
      uint64_t u = load_big_endian(x + i) >> shift;
      uint64_t v = load_big_endian(y + i) >> shift;
      if (u != v)
        return u < v ? -1 : 1;
    }
    return a.path_size < b.path_size ? -1 : a.path_size > b.path_size ? 1 : 0;
  }

  /// Records a leaf at path_ with `text`; its sort words come from path_.
  void add_leaf(value_kind kind, std::string_view text, double number) {
    std::string& bytes = out_->bytes_;
    entry& e = leaves_.emplace_back();
    e.kind = kind;
    e.number = number;
    e.path_begin = static_cast<uint32_t>(bytes.size());
    e.path_size = static_cast<uint32_t>(path_.size());
    bytes += path_;
    e.text_begin = static_cast<uint32_t>(bytes.size());
    e.text_size = static_cast<uint32_t>(text.size());
    bytes += text;
    e.pos_begin = static_cast<uint32_t>(out_->positions_.size());
    // simdjson's nesting limit (1,024 by default) keeps this below 2^16.
    e.depth = static_cast<uint16_t>(stack_.size());
    out_->positions_.insert(out_->positions_.end(), stack_.begin(),
                            stack_.end());
    char head[24] = {};
    std::memcpy(head, path_.data(), std::min(path_.size(), sizeof(head)));
    order_.push_back({{load_big_endian(head), load_big_endian(head + 8),
                       load_big_endian(head + 16)},
                      leaves_.size() - 1});
  }

  void walk(dom::element e) {
    switch (e.type()) {
    case dom::element_type::OBJECT: {
      std::size_t size = path_.size();
      for (auto [key, child] : dom::object{e.get_object().value_unsafe()}) {
        path_.resize(size);
        path_ += '.';
        path_ += key;
        walk(child);
      }
      path_.resize(size);
      return;
    }
    case dom::element_type::ARRAY: {
      uint32_t id = next_array_id_++;
      uint32_t index = 0;
      for (auto child : dom::array{e.get_array().value_unsafe()}) {
        stack_.push_back({id, index++});
        walk(child);
        stack_.pop_back();
      }
      return;
    }
    case dom::element_type::STRING:
      add_leaf(value_kind::string, e.get_string().value_unsafe(), 0);
      return;
    case dom::element_type::BOOL:
      if (e.get_bool().value_unsafe())
        add_leaf(value_kind::true_value, "true", 0);
      else
        add_leaf(value_kind::false_value, "false", 0);
      return;
    case dom::element_type::NULL_VALUE:
      add_leaf(value_kind::null, "null", 0);
      return;
    default: break;
    }
    double number = e.get_double().value_unsafe();
    // Integers print as simdjson::minify() prints them; doubles go through
    // it (its shortest round-trip format is not std::to_chars').
    char buf[24];
    std::to_chars_result r{};
    if (e.type() == dom::element_type::INT64)
      r = std::to_chars(buf, buf + sizeof(buf), e.get_int64().value_unsafe());
    else if (e.type() == dom::element_type::UINT64)
      r = std::to_chars(buf, buf + sizeof(buf), e.get_uint64().value_unsafe());
    if (r.ptr)
      add_leaf(value_kind::number, {buf, static_cast<std::size_t>(r.ptr - buf)},
               number);
    else
      add_leaf(value_kind::number, simdjson::minify(e), number);
  }

  flat_event* out_ = nullptr;
  std::string path_;
  std::vector<array_position> stack_;
  std::vector<entry> leaves_;
  std::vector<sort_entry> order_;
  uint32_t next_array_id_ = 0;
};

namespace {

flattener& thread_flattener() {
  thread_local flattener f;
  return f;
}

} // namespace

void flattener::finish() {
  // Sorting (path, index) is a stable sort by path without its buffer. Most
  // comparisons end within the words of the entries, without reading paths.
  std::string& bytes = out_->bytes_;
  // Words may be read up to 7 bytes past a path: into its text, the next
  // path, or these.
  std::size_t size = bytes.size();
  bytes.append(8, '\0');
  auto by_path = [this, &bytes](const sort_entry& a, const sort_entry& b) {
    for (int w = 0; w < 3; ++w)
      if (a.words[w] != b.words[w])
        return a.words[w] < b.words[w];
    int c = compare_paths(bytes.data(), leaves_[a.index], leaves_[b.index]);
    return c != 0 ? c < 0 : a.index < b.index;
  };
  if (!std::is_sorted(order_.begin(), order_.end(), by_path))
    std::sort(order_.begin(), order_.end(), by_path);
  bytes.resize(size);
  out_->entries_.resize(leaves_.size());
  for (std::size_t i = 0; i < order_.size(); ++i)
    out_->entries_[i] = leaves_[order_[i].index];
  out_ = nullptr;
  trim();
}

void flatten(const event& ev, flat_event& out) {
  flattener& f = thread_flattener();
  f.begin(out);
  auto attr = [&](std::string_view name, const std::string& text) {
    if (!text.empty())
      f.add_string(name, text);
  };
  attr("id", ev.id);
  attr("source", ev.source);
  attr("type", ev.type);
  attr("specversion", ev.specversion);
  attr("subject", ev.subject);
  attr("time", ev.time);
  attr("datacontenttype", ev.datacontenttype);
  attr("dataschema", ev.dataschema);
  for (const auto& ext : ev.extensions)
    f.walk_json(f.extension_parser, ext.value_json, ext.name);
  if (!ev.data.empty()) {
    if (ev.data_is_base64)
      f.add_string("data_base64", ev.data);
    else
      f.walk_json(f.data_parser, ev.data, "data");
  }
  f.finish();
}

flat_event flatten(const event& ev) {
  flat_event out;
  flatten(ev, out);
  return out;
}

} // namespace rouse::pattern
