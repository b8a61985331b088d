// JSON text building: string escaping and the object/array writers.
#include "runtime/json/writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace rouse::json {

namespace {

// Returns the length of the valid UTF-8 sequence starting at s[i], or 0.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80           ? 1
             : (c >> 5) == 0x6  ? 2
             : (c >> 4) == 0xE  ? 3
             : (c >> 3) == 0x1E ? 4
                                : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2)
      return 0;
  return n;
}

} // namespace

void append_quoted(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
    case '"':
      out += "\\\"";
      ++i;
      continue;
    case '\\':
      out += "\\\\";
      ++i;
      continue;
    case '\n':
      out += "\\n";
      ++i;
      continue;
    case '\r':
      out += "\\r";
      ++i;
      continue;
    case '\t':
      out += "\\t";
      ++i;
      continue;
    default: break;
    }
    if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
      ++i;
      continue;
    }
    auto n = utf8_sequence_length(s, i);
    if (n == 0) {
      // Invalid UTF-8 would make the whole document invalid; keep the byte
      // visible as a replacement character instead.
      out += "\\ufffd";
      ++i;
      continue;
    }
    out.append(s.data() + i, n);
    i += n;
  }
  out += '"';
}

std::string quote(std::string_view s) {
  std::string out;
  append_quoted(out, s);
  return out;
}

void object_writer::key(std::string_view k) {
  if (out_.size() > 1)
    out_ += ',';
  append_quoted(out_, k);
  out_ += ':';
}

object_writer& object_writer::field(std::string_view k, std::string_view v) {
  key(k);
  append_quoted(out_, v);
  return *this;
}

object_writer& object_writer::field(std::string_view k, int64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

object_writer& object_writer::field(std::string_view k, uint64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

object_writer& object_writer::field(std::string_view k, double v) {
  key(k);
  if (!std::isfinite(v)) {
    out_ += "null";
    return *this;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, ec == std::errc{} ? end : buf);
  return *this;
}

object_writer& object_writer::field(std::string_view k, bool v) {
  key(k);
  out_ += v ? "true" : "false";
  return *this;
}

object_writer& object_writer::raw(std::string_view k, std::string_view json) {
  key(k);
  out_ += json.empty() ? std::string_view{"null"} : json;
  return *this;
}

std::string object_writer::finish() {
  out_ += '}';
  std::string result = std::move(out_);
  out_ = "{";
  return result;
}

array_writer& array_writer::raw(std::string_view json) {
  if (out_.size() > 1)
    out_ += ',';
  out_ += json.empty() ? std::string_view{"null"} : json;
  return *this;
}

array_writer& array_writer::value(std::string_view s) {
  if (out_.size() > 1)
    out_ += ',';
  append_quoted(out_, s);
  return *this;
}

std::string array_writer::finish() {
  out_ += ']';
  std::string result = std::move(out_);
  out_ = "[";
  return result;
}

} // namespace rouse::json
