// CloudEvents JSON decoding (simdjson DOM, one parser per thread) and encoding.
// `data` is stored as simdjson's minified re-serialization: values are kept
// exactly (integers stay exact), though a number's spelling may change (3e2 ->
// 300.0).
#include "runtime/json/cloudevent.hpp"

#include "runtime/json/writer.hpp"

#include <simdjson.h>

#include <array>
#include <chrono>
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
      ev.data = simdjson::minify(value);
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
      ev.extensions.push_back({std::string{key}, simdjson::minify(value)});
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

} // namespace

caf::expected<std::vector<event>> decode_events(std::string_view body,
                                                const decode_options& opts) {
  simdjson::padded_string padded{body};
  simdjson::dom::element doc;
  if (auto code = thread_parser().parse(padded).get(doc);
      code != simdjson::SUCCESS)
    return make_error(errc::invalid_input, std::string{"invalid JSON: "}
                                               + simdjson::error_message(code));
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

caf::expected<event> decode_event(std::string_view body,
                                  const decode_options& opts) {
  auto events = decode_events(body, opts);
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
