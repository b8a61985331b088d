// JSON text building: string escaping and the object/array writers.
#include "runtime/json/writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace rouse::json {

namespace {

// Returns the length of the well-formed UTF-8 sequence of a non-ASCII byte at
// s[i], or 0 (overlong forms, surrogates and code points past U+10FFFF are
// ill-formed).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned c = at(i);
  size_t len = 0;
  unsigned cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (i + len > s.size())
    return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned cc = at(i + k);
    if ((cc & 0xC0u) != 0x80u)
      return 0;
    cp = (cp << 6) | (cc & 0x3Fu);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
    return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))
    return 0;
  return len;
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
    if (c < 0x80) {
      out += static_cast<char>(c);
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
