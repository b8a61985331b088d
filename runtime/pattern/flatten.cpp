// Flattens events into sorted leaf fields with simdjson DOM (one parser per
// thread).
#include "runtime/pattern/flatten.hpp"

#include <simdjson.h>

#include <algorithm>

namespace rouse::pattern {

namespace {

namespace dom = simdjson::dom;

class flattener {
public:
  explicit flattener(std::vector<field>& out) : out_(out) {}

  void add_string(std::string path, std::string_view s) {
    field f;
    f.path = std::move(path);
    f.val.kind = value_kind::string;
    f.val.text = std::string{s};
    out_.push_back(std::move(f));
  }

  void walk(dom::element e, const std::string& path) {
    switch (e.type()) {
    case dom::element_type::OBJECT:
      for (auto [key, child] : dom::object{e.get_object().value_unsafe()})
        walk(child, path + "." + std::string{key});
      return;
    case dom::element_type::ARRAY: {
      uint32_t id = next_array_id_++;
      uint32_t index = 0;
      for (auto child : dom::array{e.get_array().value_unsafe()}) {
        arrays_.push_back({id, index++});
        walk(child, path);
        arrays_.pop_back();
      }
      return;
    }
    default: break;
    }
    field f;
    f.path = path;
    f.arrays = arrays_;
    auto& v = f.val;
    switch (e.type()) {
    case dom::element_type::STRING:
      v.kind = value_kind::string;
      v.text = std::string{e.get_string().value_unsafe()};
      break;
    case dom::element_type::BOOL:
      v.kind = e.get_bool().value_unsafe() ? value_kind::true_value
                                           : value_kind::false_value;
      v.text = v.kind == value_kind::true_value ? "true" : "false";
      break;
    case dom::element_type::NULL_VALUE:
      v.kind = value_kind::null;
      v.text = "null";
      break;
    default:
      v.kind = value_kind::number;
      v.text = simdjson::minify(e);
      v.number = e.get_double().value_unsafe();
      break;
    }
    out_.push_back(std::move(f));
  }

  void walk_json(std::string_view json, const std::string& path) {
    thread_local dom::parser parser;
    simdjson::padded_string padded{json};
    dom::element doc;
    if (parser.parse(padded).get(doc) == simdjson::SUCCESS)
      walk(doc, path);
  }

private:
  std::vector<field>& out_;
  std::vector<array_position> arrays_;
  uint32_t next_array_id_ = 0;
};

} // namespace

std::vector<field> flatten(const event& ev) {
  std::vector<field> out;
  flattener f{out};
  auto attr = [&](const char* name, const std::string& s) {
    if (!s.empty())
      f.add_string(name, s);
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
    f.walk_json(ext.value_json, ext.name);
  if (!ev.data.empty()) {
    if (ev.data_is_base64)
      f.add_string("data_base64", ev.data);
    else
      f.walk_json(ev.data, "data");
  }
  std::stable_sort(out.begin(), out.end(), [](const field& a, const field& b) {
    return a.path < b.path;
  });
  return out;
}

} // namespace rouse::pattern
