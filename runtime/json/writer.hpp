// A minimal JSON text builder for responses, handler stdin and CLI output. It
// only writes; parsing goes through simdjson in cloudevent.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rouse::json {

/// Appends `s` to `out` as a JSON string literal (quotes included, control
/// characters and invalid UTF-8 bytes escaped as \u00XX).
void append_quoted(std::string& out, std::string_view s);

/// Returns `s` as a JSON string literal.
std::string quote(std::string_view s);

/// Builds one JSON object or array by appending to a string. Not thread-safe.
/// Usage: object_writer w; w.field("id", id).field("seq", seq); w.finish()
class object_writer {
public:
  object_writer() : out_("{") {}

  object_writer& field(std::string_view key, std::string_view value);
  object_writer& field(std::string_view key, const char* value) {
    return field(key, std::string_view{value});
  }
  object_writer& field(std::string_view key, const std::string& value) {
    return field(key, std::string_view{value});
  }
  object_writer& field(std::string_view key, int64_t value);
  object_writer& field(std::string_view key, uint64_t value);
  object_writer& field(std::string_view key, int32_t value) {
    return field(key, static_cast<int64_t>(value));
  }
  object_writer& field(std::string_view key, uint32_t value) {
    return field(key, static_cast<uint64_t>(value));
  }
  object_writer& field(std::string_view key, double value);
  object_writer& field(std::string_view key, bool value);
  /// Writes `json` (already valid JSON text) as the value; empty writes null.
  object_writer& raw(std::string_view key, std::string_view json);

  /// Closes the object and returns its text; the writer is empty afterwards.
  std::string finish();

private:
  void key(std::string_view k);
  std::string out_;
};

/// Joins JSON values (already valid text) into an array.
class array_writer {
public:
  array_writer() : out_("[") {}
  array_writer& raw(std::string_view json);
  array_writer& value(std::string_view s);
  std::string finish();
  bool empty() const noexcept { return out_.size() == 1; }

private:
  std::string out_;
};

} // namespace rouse::json
