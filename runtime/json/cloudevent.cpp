// CloudEvents JSON decoding (simdjson DOM, one parser per thread) and encoding.
// `data` is stored as simdjson's minified re-serialization: values are kept
// exactly (integers stay exact), though a number's spelling may change (3e2 ->
// 300.0).
#include "runtime/json/cloudevent.hpp"

#include "runtime/json/writer.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <random>

namespace rouse::json {

namespace {

bool is_valid_extension_name(std::string_view name) {
  if (name.empty() || name.size() > 20)
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return false;
  return true;
}

/// Writes DOM values as simdjson::minify() does (the same bytes), into one
/// per-thread buffer through a raw cursor, without minify()'s per-character
/// buffer growth and final copy.
class minifier {
public:
  /// Returns `e` minified.
  std::string write(simdjson::dom::element e) {
    at_ = 0;
    value(e);
    std::string out{buf_.data(), at_};
    if (buf_.size() > keep_bytes)
      buf_ = {};
    return out;
  }

private:
  /// The most buffer kept between calls; a larger `data` releases it after.
  static constexpr std::size_t keep_bytes = std::size_t{1} << 20;

  /// Makes room for `n` more bytes and returns where they go.
  char* room(std::size_t n) {
    if (buf_.size() - at_ < n) [[unlikely]]
      grow(n);
    return buf_.data() + at_;
  }

  [[gnu::noinline]] void grow(std::size_t n) {
    buf_.resize(std::max(buf_.size() * 2, at_ + n));
  }

  void put(char c) {
    *room(1) = c;
    ++at_;
  }

  void put(std::string_view s) {
    std::memcpy(room(s.size()), s.data(), s.size());
    at_ += s.size();
  }

  /// Returns the index of the first byte of `s` that needs escaping (a
  /// control character, '"' or '\\'), or s.size(). Bytes >= 0x80 never do.
  static std::size_t clean_prefix(std::string_view s) noexcept {
    constexpr uint64_t ones = 0x0101010101010101;
    constexpr uint64_t highs = 0x8080808080808080;
    auto has_zero = [](uint64_t x) { return (x - ones) & ~x & highs; };
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, sizeof(w));
      if (((w - ones * 0x20) & ~w & highs) | has_zero(w ^ (ones * '"'))
          | has_zero(w ^ (ones * '\\')))
        break;
    }
    for (; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == '"' || c == '\\')
        break;
    }
    return i;
  }

  /// Writes `s` quoted; only '"', '\\' and control characters are escaped.
  void quoted(std::string_view s) {
    std::size_t clean = clean_prefix(s);
    char* out = room(s.size() + 2);
    out[0] = '"';
    std::memcpy(out + 1, s.data(), clean);
    if (clean == s.size()) {
      out[clean + 1] = '"';
      at_ += s.size() + 2;
      return;
    }
    at_ += clean + 1;
    static constexpr const char* control[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005",
        "\\u0006", "\\u0007", "\\b",     "\\t",     "\\n",     "\\u000b",
        "\\f",     "\\r",     "\\u000e", "\\u000f", "\\u0010", "\\u0011",
        "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d",
        "\\u001e", "\\u001f"};
    for (std::size_t i = clean; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c == '"')
        put("\\\"");
      else if (c == '\\')
        put("\\\\");
      else if (c < 0x20)
        put(control[c]);
      else
        put(static_cast<char>(c));
    }
    put('"');
  }

  template <class Integer>
  void integer(Integer x) {
    char* out = room(24);
    at_ = static_cast<std::size_t>(std::to_chars(out, out + 24, x).ptr
                                   - buf_.data());
  }

  void value(simdjson::dom::element e) {
    namespace dom = simdjson::dom;
    switch (e.type()) {
    case dom::element_type::OBJECT: {
      put('{');
      bool first = true;
      for (auto [key, child] : dom::object{e.get_object().value_unsafe()}) {
        if (!first)
          put(',');
        first = false;
        quoted(key);
        put(':');
        value(child);
      }
      put('}');
      return;
    }
    case dom::element_type::ARRAY: {
      put('[');
      bool first = true;
      for (auto child : dom::array{e.get_array().value_unsafe()}) {
        if (!first)
          put(',');
        first = false;
        value(child);
      }
      put(']');
      return;
    }
    case dom::element_type::STRING:
      quoted(e.get_string().value_unsafe());
      return;
    case dom::element_type::INT64:
      integer(e.get_int64().value_unsafe());
      return;
    case dom::element_type::UINT64:
      integer(e.get_uint64().value_unsafe());
      return;
    case dom::element_type::BOOL:
      put(e.get_bool().value_unsafe() ? "true" : "false");
      return;
    case dom::element_type::NULL_VALUE: put("null"); return;
    default:
      // Doubles keep simdjson's shortest round-trip spelling (e.g. 300.0).
      put(simdjson::minify(e));
      return;
    }
  }

  std::string buf_;
  std::size_t at_ = 0;
};

/// Returns `e` as simdjson::minify() writes it.
std::string minified(simdjson::dom::element e) {
  thread_local minifier m;
  return m.write(e);
}

caf::error invalid(size_t index, bool batch, const std::string& what) {
  std::string prefix = batch ? "event[" + std::to_string(index) + "]: " : "";
  return make_error(errc::invalid_input, prefix + what);
}

caf::error decode_object(simdjson::dom::object obj, size_t index, bool batch,
                         const decode_options& opts, event& ev) {
  bool have_specversion = false;
  bool have_data = false;
  for (auto field : obj) {
    std::string_view key = field.key;
    auto value = field.value;
    auto string_attr = [&](std::string& dst) -> caf::error {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS)
        return invalid(index, batch,
                       "attribute \"" + std::string{key}
                           + "\" must be a string");
      if (s.size() > opts.max_attribute_bytes)
        return invalid(index, batch,
                       "attribute \"" + std::string{key} + "\" is longer than "
                           + std::to_string(opts.max_attribute_bytes)
                           + " bytes");
      dst.assign(s);
      return {};
    };
    caf::error err;
    if (key == "id")
      err = string_attr(ev.id);
    else if (key == "source")
      err = string_attr(ev.source);
    else if (key == "type")
      err = string_attr(ev.type);
    else if (key == "specversion") {
      have_specversion = true;
      err = string_attr(ev.specversion);
    } else if (key == "subject")
      err = string_attr(ev.subject);
    else if (key == "time")
      err = string_attr(ev.time);
    else if (key == "datacontenttype")
      err = string_attr(ev.datacontenttype);
    else if (key == "dataschema")
      err = string_attr(ev.dataschema);
    else if (key == "data") {
      if (have_data)
        return invalid(index, batch, "both \"data\" and \"data_base64\" given");
      have_data = true;
      ev.data = minified(value);
      ev.data_is_base64 = false;
    } else if (key == "data_base64") {
      if (have_data)
        return invalid(index, batch, "both \"data\" and \"data_base64\" given");
      have_data = true;
      err = string_attr(ev.data);
      ev.data_is_base64 = true;
    } else {
      if (!is_valid_extension_name(key))
        return invalid(index, batch,
                       "invalid extension attribute name \"" + std::string{key}
                           + "\" (lower-case letters and digits, at most 20)");
      if (value.is<simdjson::dom::object>() || value.is<simdjson::dom::array>()
          || value.is_null())
        return invalid(index, batch,
                       "extension attribute \"" + std::string{key}
                           + "\" must be a string, number or boolean");
      ev.extensions.push_back({std::string{key}, minified(value)});
    }
    if (err)
      return err;
  }
  if (have_specversion && ev.specversion != "1.0")
    return invalid(index, batch,
                   "unsupported specversion \"" + ev.specversion
                       + "\" (only \"1.0\" is supported)");
  ev.specversion = "1.0";
  if (ev.source.empty())
    return invalid(index, batch, "missing required attribute \"source\"");
  if (ev.type.empty())
    return invalid(index, batch, "missing required attribute \"type\"");
  if (ev.id.empty()) {
    if (!opts.generate_missing_id)
      return invalid(index, batch, "missing required attribute \"id\"");
    ev.id = random_hex_id();
  }
  return {};
}

simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

/// Parses `body` with the thread's parser, which copies it into its own
/// padded buffer (reused across calls).
caf::error parse_body(std::string_view body, simdjson::dom::element& doc) {
  if (auto code = thread_parser().parse(body.data(), body.size()).get(doc);
      code != simdjson::SUCCESS)
    return make_error(errc::invalid_input, std::string{"invalid JSON: "}
                                               + simdjson::error_message(code));
  return {};
}

caf::expected<std::vector<event>> decode_document(simdjson::dom::element doc,
                                                  const decode_options& opts) {
  std::vector<event> events;
  if (doc.is<simdjson::dom::object>()) {
    events.emplace_back();
    if (auto err = decode_object(doc.get_object().value_unsafe(), 0, false,
                                 opts, events.back()))
      return err;
    return events;
  }
  simdjson::dom::array arr;
  if (doc.get_array().get(arr) != simdjson::SUCCESS)
    return make_error(errc::invalid_input,
                      "body must be a CloudEvent object or an array of them");
  if (arr.size() == 0)
    return make_error(errc::invalid_input, "empty batch: no events given");
  if (arr.size() > opts.max_events)
    return make_error(errc::too_large, "batch of " + std::to_string(arr.size())
                                           + " events is over the limit of "
                                           + std::to_string(opts.max_events));
  events.reserve(arr.size());
  size_t index = 0;
  for (auto element : arr) {
    simdjson::dom::object obj;
    if (element.get_object().get(obj) != simdjson::SUCCESS)
      return invalid(index, true, "must be a JSON object");
    events.emplace_back();
    if (auto err = decode_object(obj, index, true, opts, events.back()))
      return err;
    ++index;
  }
  return events;
}

} // namespace

caf::expected<std::vector<event>> decode_events(std::string_view body,
                                                const decode_options& opts) {
  simdjson::dom::element doc;
  if (auto err = parse_body(body, doc))
    return err;
  return decode_document(doc, opts);
}

caf::expected<event> decode_event(std::string_view body,
                                  const decode_options& opts) {
  simdjson::dom::element doc;
  if (auto err = parse_body(body, doc))
    return err;
  // One object decodes straight into the result; anything else takes the
  // batch path, whose errors name the element.
  if (doc.is<simdjson::dom::object>()) {
    event ev;
    if (auto err =
            decode_object(doc.get_object().value_unsafe(), 0, false, opts, ev))
      return err;
    return ev;
  }
  auto events = decode_document(doc, opts);
  if (!events)
    return std::move(events.error());
  if (events->size() != 1)
    return make_error(errc::invalid_input, "expected one CloudEvent object");
  return std::move(events->front());
}

namespace {

void write_attributes(object_writer& w, const event& ev) {
  w.field("specversion", ev.specversion)
      .field("id", ev.id)
      .field("source", ev.source)
      .field("type", ev.type);
  if (!ev.subject.empty())
    w.field("subject", ev.subject);
  if (!ev.time.empty())
    w.field("time", ev.time);
  if (!ev.datacontenttype.empty())
    w.field("datacontenttype", ev.datacontenttype);
  if (!ev.dataschema.empty())
    w.field("dataschema", ev.dataschema);
  for (const auto& ext : ev.extensions)
    w.raw(ext.name, ext.value_json);
  if (!ev.data.empty()) {
    if (ev.data_is_base64)
      w.field("data_base64", ev.data);
    else
      w.raw("data", ev.data);
  }
}

} // namespace

std::string encode_cloudevent(const event& ev) {
  object_writer w;
  write_attributes(w, ev);
  return w.finish();
}

std::string encode_stored_event(const event& ev) {
  object_writer meta;
  meta.field("seq", ev.seq)
      .field("received_by", ev.received_by)
      .field("received_at", format_rfc3339(ev.received_ns))
      .field("depth", ev.depth);
  if (!ev.cause.empty())
    meta.field("cause", ev.cause);
  object_writer w;
  write_attributes(w, ev);
  w.raw("rouse", meta.finish());
  return w.finish();
}

std::string format_rfc3339(int64_t ns) {
  if (ns <= 0)
    return {};
  auto secs = static_cast<std::time_t>(ns / 1'000'000'000);
  auto millis = static_cast<int>((ns / 1'000'000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::string random_hex_id() {
  thread_local std::mt19937_64 rng{
      std::random_device{}()
      ^ static_cast<uint64_t>(
          std::chrono::steady_clock::now().time_since_epoch().count())};
  static constexpr char digits[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    auto x = rng();
    for (int i = 0; i < 16; ++i)
      id[half * 16 + i] = digits[(x >> (i * 4)) & 0xF];
  }
  return id;
}

} // namespace rouse::json
