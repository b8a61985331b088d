// Flattens events into sorted leaf fields with simdjson DOM. The walk records
// each leaf as offsets into per-thread buffers (paths, array positions, copied
// text), sorts the records, and only then builds the result strings, once and
// in order.
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

/// One leaf before it becomes a field: its path in `paths`, its array
/// positions in `positions`, and its text either in `texts` (owned) or at
/// `text` (the event or the parsed data document, alive until the end).
struct leaf {
  std::size_t path_begin = 0;
  std::size_t path_size = 0;
  std::size_t pos_begin = 0;
  std::size_t depth = 0;
  std::size_t text_begin = 0; // into texts when text == nullptr
  std::size_t text_size = 0;
  const char* text = nullptr;
  value_kind kind = value_kind::null;
  double number = 0;
};

/// A leaf's place in the sort: the first 24 bytes of its path as big-endian
/// words, zero-padded (so comparing words orders paths as strings do, except
/// that equal words leave it open), and the leaf's index.
struct sort_entry {
  uint64_t words[3];
  std::size_t index;
};

/// Per-thread buffers, reused across calls so that flatten() allocates only
/// its result once they have grown.
struct scratch {
  std::string path;
  std::string paths;
  std::string texts;
  std::vector<array_position> positions;
  std::vector<array_position> stack;
  std::vector<leaf> leaves;
  std::vector<sort_entry> order;
  dom::parser data_parser;
  dom::parser extension_parser;
  uint32_t next_array_id = 0;

  void clear() {
    path.clear();
    paths.clear();
    texts.clear();
    positions.clear();
    stack.clear();
    leaves.clear();
    order.clear();
    next_array_id = 0;
  }

  /// Releases the buffers if a large event grew them past what is worth
  /// keeping for the next call.
  void trim() {
    constexpr std::size_t keep_bytes = std::size_t{1} << 20;
    if (paths.capacity() + texts.capacity()
            + positions.capacity() * sizeof(array_position)
            + leaves.capacity() * sizeof(leaf)
            + order.capacity() * sizeof(sort_entry)
        > keep_bytes) {
      paths = {};
      texts = {};
      positions = {};
      leaves = {};
      order = {};
    }
  }

  std::string_view path_of(const leaf& l) const noexcept {
    return {paths.data() + l.path_begin, l.path_size};
  }

  std::string_view text_of(const leaf& l) const noexcept {
    if (l.text)
      return {l.text, l.text_size};
    return {texts.data() + l.text_begin, l.text_size};
  }
};

class flattener {
public:
  explicit flattener(scratch& s) : s_(s) {}

  /// Adds a string leaf whose text outlives the flatten() call.
  void add_string(std::string_view path, std::string_view text) {
    s_.path.assign(path);
    leaf& l = add_leaf(value_kind::string);
    l.text = text.data();
    l.text_size = text.size();
  }

  /// Walks `json` found at `path`. With `copy`, strings are copied, since the
  /// document does not outlive the next parse with `parser`.
  void walk_json(dom::parser& parser, const std::string& json,
                 std::string_view path, bool copy) {
    dom::element doc;
    // Copies `json` into the parser's own padded buffer, reused across calls.
    if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS)
      return;
    s_.path.assign(path);
    copy_ = copy;
    walk(doc);
  }

private:
  leaf& add_leaf(value_kind kind) {
    leaf& l = s_.leaves.emplace_back();
    l.kind = kind;
    l.path_begin = s_.paths.size();
    l.path_size = s_.path.size();
    s_.paths += s_.path;
    l.pos_begin = s_.positions.size();
    l.depth = s_.stack.size();
    s_.positions.insert(s_.positions.end(), s_.stack.begin(), s_.stack.end());
    return l;
  }

  void set_owned_text(leaf& l, std::string_view text) {
    l.text = nullptr;
    l.text_begin = s_.texts.size();
    l.text_size = text.size();
    s_.texts += text;
  }

  void walk(dom::element e) {
    switch (e.type()) {
    case dom::element_type::OBJECT: {
      std::size_t size = s_.path.size();
      for (auto [key, child] : dom::object{e.get_object().value_unsafe()}) {
        s_.path.resize(size);
        s_.path += '.';
        s_.path += key;
        walk(child);
      }
      s_.path.resize(size);
      return;
    }
    case dom::element_type::ARRAY: {
      uint32_t id = s_.next_array_id++;
      uint32_t index = 0;
      for (auto child : dom::array{e.get_array().value_unsafe()}) {
        s_.stack.push_back({id, index++});
        walk(child);
        s_.stack.pop_back();
      }
      return;
    }
    case dom::element_type::STRING: {
      leaf& l = add_leaf(value_kind::string);
      std::string_view text = e.get_string().value_unsafe();
      if (copy_) {
        set_owned_text(l, text);
      } else {
        l.text = text.data();
        l.text_size = text.size();
      }
      return;
    }
    case dom::element_type::BOOL: {
      bool b = e.get_bool().value_unsafe();
      leaf& l = add_leaf(b ? value_kind::true_value : value_kind::false_value);
      std::string_view text = b ? "true" : "false";
      l.text = text.data();
      l.text_size = text.size();
      return;
    }
    case dom::element_type::NULL_VALUE: {
      leaf& l = add_leaf(value_kind::null);
      l.text = "null";
      l.text_size = 4;
      return;
    }
    default: break;
    }
    leaf& l = add_leaf(value_kind::number);
    l.number = e.get_double().value_unsafe();
    // Integers print as simdjson::minify() prints them; doubles go through
    // it (its shortest round-trip format is not std::to_chars').
    char buf[24];
    std::to_chars_result r{};
    if (e.type() == dom::element_type::INT64)
      r = std::to_chars(buf, buf + sizeof(buf), e.get_int64().value_unsafe());
    else if (e.type() == dom::element_type::UINT64)
      r = std::to_chars(buf, buf + sizeof(buf), e.get_uint64().value_unsafe());
    if (r.ptr)
      set_owned_text(l, {buf, static_cast<std::size_t>(r.ptr - buf)});
    else
      set_owned_text(l, simdjson::minify(e));
  }

  scratch& s_;
  bool copy_ = false;
};

uint64_t load_big_endian(const char* p) noexcept {
  uint64_t x;
  std::memcpy(&x, p, sizeof(x));
  if constexpr (std::endian::native == std::endian::little)
    x = __builtin_bswap64(x);
  return x;
}

/// Returns <0, 0 or >0 as the path of `a` sorts before, with or after that of
/// `b`, comparing eight bytes at a time (paths are often long and share long
/// prefixes such as "data.repository."). `paths` must hold 8 bytes past the
/// end of every path.
int compare_paths(const char* paths, const leaf& a, const leaf& b) noexcept {
  const char* x = paths + a.path_begin;
  const char* y = paths + b.path_begin;
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

/// Returns the path bytes [at, at + 8) as a big-endian word, zero past the
/// end. `p` must have 8 readable bytes past its end.
uint64_t path_word(const char* p, std::size_t size, std::size_t at) noexcept {
  if (at >= size)
    return 0;
  uint64_t w = load_big_endian(p + at);
  if (size - at < 8)
    w &= ~(~uint64_t{0} >> (8 * (size - at)));
  return w;
}

scratch& thread_scratch() {
  thread_local scratch s;
  return s;
}

} // namespace

std::vector<field> flatten(const event& ev) {
  scratch& s = thread_scratch();
  s.clear();
  flattener f{s};
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
    f.walk_json(s.extension_parser, ext.value_json, ext.name, true);
  if (!ev.data.empty()) {
    if (ev.data_is_base64)
      f.add_string("data_base64", ev.data);
    else
      f.walk_json(s.data_parser, ev.data, "data", false);
  }

  // Sorting (path, index) is a stable sort by path without its buffer. Most
  // comparisons end within the words of the entries, without reading paths.
  std::size_t n = s.leaves.size();
  // Words may be read up to 7 bytes past a path: into the next one or these.
  s.paths.append(8, '\0');
  s.order.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const leaf& l = s.leaves[i];
    const char* p = s.paths.data() + l.path_begin;
    s.order[i] = {{path_word(p, l.path_size, 0), path_word(p, l.path_size, 8),
                   path_word(p, l.path_size, 16)},
                  i};
  }
  auto by_path = [&s](const sort_entry& a, const sort_entry& b) {
    for (int w = 0; w < 3; ++w)
      if (a.words[w] != b.words[w])
        return a.words[w] < b.words[w];
    int c = compare_paths(s.paths.data(), s.leaves[a.index], s.leaves[b.index]);
    return c != 0 ? c < 0 : a.index < b.index;
  };
  if (!std::is_sorted(s.order.begin(), s.order.end(), by_path))
    std::sort(s.order.begin(), s.order.end(), by_path);

  std::vector<field> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const leaf& l = s.leaves[s.order[i].index];
    field& f = out[i];
    f.path.assign(s.path_of(l));
    f.val.kind = l.kind;
    f.val.text.assign(s.text_of(l));
    f.val.number = l.number;
    if (l.depth != 0)
      f.arrays.assign(s.positions.data() + l.pos_begin,
                      s.positions.data() + l.pos_begin + l.depth);
  }
  s.trim();
  return out;
}

} // namespace rouse::pattern
