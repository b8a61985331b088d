// Loads `node:`, the settings of this rouse node (node_config), checking each
// value's type and bounds.
#include "runtime/config/loader.hpp"

#include "messages/errc.hpp"

namespace rouse::config::detail {

void loader::load_node(const field& f) {
  if (f.node.IsNull())
    return;
  if (!expect_map(f, "a map of node settings"))
    return;
  auto& node = cfg_.node;
  auto m = read_map(f, {"name", "data_dir", "listen", "api_token", "shards",
                        "durability", "dedup_window", "map_size", "max_mapped",
                        "max_body", "http_threads", "output_cap", "max_running",
                        "max_depth", "max_queued", "run_events"});
  if (auto v = find(m, "name"))
    if (auto s = get_string(*v)) {
      if (is_valid_name(*s))
        node.name = std::move(*s);
      else
        error(value_mark(*v), v->path, invalid_name_message(*s));
    }
  if (auto v = find(m, "data_dir"))
    if (auto s = get_string(*v))
      node.data_dir = resolve_path(base_dir_, *s);
  bool listen_ok = true;
  if (auto v = find(m, "listen")) {
    listen_ok = false;
    if (auto s = get_string(*v)) {
      if (auto addr = parse_listen(*s)) {
        node.listen_host = std::move(addr->host);
        node.listen_port = addr->port;
        listen_ok = true;
      } else {
        error(value_mark(*v), v->path, describe(addr.error()));
      }
    }
  }
  auto token = find(m, "api_token");
  if (token)
    if (auto s = get_secret(*token))
      node.api_token = std::move(*s);
  if (listen_ok && !token && !is_loopback(node.listen_host)) {
    auto listen = find(m, "listen");
    error(value_mark(*listen), join(f.path, "api_token"),
          "required when node.listen host " + quote(node.listen_host)
              + " is not a loopback address (127.0.0.0/8, ::1, localhost); "
                "set api_token: env:NAME or file:PATH");
  }
  if (auto v = find(m, "shards"))
    if (auto n = get_uint(*v, 1, 64))
      node.shards = static_cast<uint32_t>(*n);
  if (auto v = find(m, "durability"))
    if (auto s = get_string(*v)) {
      if (*s == "fsync")
        node.durability = durability_mode::fsync;
      else if (*s == "os")
        node.durability = durability_mode::os;
      else
        error(value_mark(*v), v->path,
              "expected fsync or os, got " + quote(*s));
    }
  if (auto v = find(m, "dedup_window"))
    if (auto d = get_duration(*v)) {
      if (d->count() % 1000 == 0)
        node.dedup_window =
            std::chrono::duration_cast<std::chrono::seconds>(*d);
      else
        error(value_mark(*v), v->path,
              "must be a whole number of seconds, got "
                  + quote(v->node.Scalar()));
    }
  if (auto v = find(m, "map_size"))
    if (auto n = get_size(*v, 1024 * 1024, "1MiB"))
      node.map_size_bytes = *n;
  if (auto v = find(m, "max_mapped"))
    if (auto n = get_size(*v, 0, "0B"))
      node.max_mapped_bytes = *n;
  if (auto v = find(m, "max_body"))
    if (auto n = get_size(*v, 1, "1B"))
      node.max_body_bytes = *n;
  if (auto v = find(m, "http_threads"))
    if (auto n = get_uint(*v, 1, 16))
      node.http_threads = static_cast<uint32_t>(*n);
  if (auto v = find(m, "output_cap"))
    if (auto n = get_size(*v, 0, "0B"))
      node.output_cap_bytes = *n;
  if (auto v = find(m, "max_running"))
    if (auto n = get_uint(*v, 1, 256))
      node.max_running = static_cast<uint32_t>(*n);
  if (auto v = find(m, "max_depth"))
    if (auto n = get_uint(*v, 1, 1000))
      node.max_depth = static_cast<uint32_t>(*n);
  if (auto v = find(m, "run_events")) {
    bool b = false;
    if (v->node.IsScalar() && v->node.Scalar() == "auto")
      node.run_events = node_config::run_events_mode::automatic;
    else if (v->node.IsScalar() && YAML::convert<bool>::decode(v->node, b))
      node.run_events = b ? node_config::run_events_mode::always
                          : node_config::run_events_mode::never;
    else
      error(value_mark(*v), v->path,
            "expected auto, true or false, got " + describe_type(v->node));
  }
  if (auto v = find(m, "max_queued"))
    if (auto n = get_uint(*v, 1, 10'000'000))
      node.max_queued = static_cast<uint32_t>(*n);
}

} // namespace rouse::config::detail
