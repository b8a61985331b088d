// The event record: a CloudEvents 1.0 event plus rouse's internal fields
// (journal position, receiving source, causation). Plain data that owns its
// bytes, so it crosses actor and node boundaries; JSON encoding and decoding
// live in runtime/json.
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace rouse {

/// One CloudEvents extension attribute. `value_json` is the attribute's JSON
/// text (a string is stored quoted), so integers and booleans keep their type.
struct extension_attr {
  std::string name;
  std::string value_json;

  friend bool operator==(const extension_attr&,
                         const extension_attr&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, extension_attr& x) {
  return f(caf::meta::type_name("extension_attr"), x.name, x.value_json);
}

/// A CloudEvents 1.0 event as rouse stores and routes it.
struct event {
  // --- CloudEvents context attributes ---------------------------------------
  /// Required. Unique within `source`; the dedup key together with `source`.
  std::string id;
  /// Required. A URI-reference naming the producer (a configured source's id,
  /// or the CloudEvent's own `source` for events received as CloudEvents).
  std::string source;
  /// Required. E.g. "github.pull_request".
  std::string type;
  /// Required. Always "1.0".
  std::string specversion = "1.0";
  /// Optional attributes; empty means absent.
  std::string subject;
  std::string time;
  std::string datacontenttype;
  std::string dataschema;
  /// The payload: JSON text of `data`, or the base64 text of `data_base64` when
  /// `data_is_base64`; empty means no data.
  std::string data;
  bool data_is_base64 = false;
  /// Extension attributes in arrival order (names are lower-case
  /// alphanumerics).
  std::vector<extension_attr> extensions;

  // --- rouse internal fields (not part of the CloudEvent) --------------------
  /// Position in the journal, assigned at commit; 0 before.
  uint64_t seq = 0;
  /// The configured source (or "api") that received the event.
  std::string received_by;
  /// Wall-clock time the journal committed the event, in ns since the epoch.
  int64_t received_ns = 0;
  /// Causation depth: 0 for outside events, parent depth + 1 for events emitted
  /// by runs.
  uint32_t depth = 0;
  /// Id of the event whose run emitted this one; empty for outside events.
  std::string cause;

  friend bool operator==(const event&, const event&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("event"), x.id, x.source, x.type, x.specversion,
           x.subject, x.time, x.datacontenttype, x.dataschema, x.data,
           x.data_is_base64, x.extensions, x.seq, x.received_by, x.received_ns,
           x.depth, x.cause);
}

/// Returns the value of extension `name` as JSON text, or nullptr if absent.
const std::string* find_extension(const event& ev, const std::string& name);

} // namespace rouse
