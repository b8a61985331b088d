// Template parsing and rendering; event data is parsed with simdjson DOM.
#include "runtime/template/template.hpp"

#include "messages/errc.hpp"

#include <simdjson.h>

#include <charconv>

namespace rouse::tmpl {

namespace {

bool is_path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'
         || c == '$';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

} // namespace

struct event_lookup::impl {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;
};

event_lookup::event_lookup(const event& ev) : ev_(ev) {}

event_lookup::~event_lookup() {
  delete impl_;
}

std::optional<std::string> event_lookup::get(std::string_view path) {
  auto attr = [](const std::string& v) -> std::optional<std::string> {
    if (v.empty())
      return std::nullopt;
    return v;
  };
  if (path == "id")
    return attr(ev_.id);
  if (path == "source")
    return attr(ev_.source);
  if (path == "type")
    return attr(ev_.type);
  if (path == "subject")
    return attr(ev_.subject);
  if (path == "time")
    return attr(ev_.time);
  if (path == "specversion")
    return attr(ev_.specversion);
  if (path == "datacontenttype")
    return attr(ev_.datacontenttype);
  if (path == "dataschema")
    return attr(ev_.dataschema);
  if (path == "data_base64")
    return ev_.data_is_base64 ? attr(ev_.data) : std::nullopt;
  if (path != "data" && !path.starts_with("data.")) {
    for (const auto& ext : ev_.extensions)
      if (ext.name == path) {
        // Extensions are stored as JSON; strings render unquoted.
        simdjson::dom::parser p;
        simdjson::dom::element e;
        std::string_view s;
        if (p.parse(ext.value_json).get(e) == simdjson::SUCCESS
            && e.get_string().get(s) == simdjson::SUCCESS)
          return std::string{s};
        return ext.value_json;
      }
    return std::nullopt;
  }
  if (ev_.data_is_base64 || ev_.data.empty())
    return std::nullopt;
  if (impl_ == nullptr) {
    impl_ = new impl;
    impl_->ok =
        impl_->parser.parse(ev_.data).get(impl_->root) == simdjson::SUCCESS;
  }
  if (!impl_->ok)
    return std::nullopt;
  auto cur = impl_->root;
  auto rest = path.substr(4); // after "data"
  while (!rest.empty()) {
    rest.remove_prefix(1); // the '.'
    auto dot = rest.find('.');
    auto key = rest.substr(0, dot);
    rest =
        dot == std::string_view::npos ? std::string_view{} : rest.substr(dot);
    simdjson::dom::element next;
    if (cur.is_object()) {
      if (cur.get_object().value_unsafe()[key].get(next) != simdjson::SUCCESS)
        return std::nullopt;
    } else if (cur.is_array()) {
      size_t index = 0;
      auto [end, ec] =
          std::from_chars(key.data(), key.data() + key.size(), index);
      if (ec != std::errc{} || end != key.data() + key.size()
          || cur.get_array().value_unsafe().at(index).get(next)
                 != simdjson::SUCCESS)
        return std::nullopt;
    } else {
      return std::nullopt;
    }
    cur = next;
  }
  switch (cur.type()) {
  case simdjson::dom::element_type::STRING:
    return std::string{cur.get_string().value_unsafe()};
  case simdjson::dom::element_type::NULL_VALUE: return std::string{};
  default: return simdjson::minify(cur);
  }
}

caf::expected<text_template> text_template::parse(std::string_view text) {
  text_template t;
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 4, "{{{{") == 0) {
      literal += "{{";
      i += 4;
      continue;
    }
    if (text.compare(i, 2, "{{") != 0) {
      literal += text[i++];
      continue;
    }
    auto close = text.find("}}", i + 2);
    if (close == std::string_view::npos)
      return make_error(errc::invalid_input,
                        "unclosed \"{{\" at offset " + std::to_string(i)
                            + " (write {{{{ for a literal {{)");
    auto path = trim(text.substr(i + 2, close - i - 2));
    if (path.empty())
      return make_error(errc::invalid_input,
                        "empty {{}} at offset " + std::to_string(i));
    for (char c : path)
      if (!is_path_char(c))
        return make_error(
            errc::invalid_input,
            "invalid character in template path \"" + std::string{path}
                + "\" (paths look like data.pull_request.number)");
    if (path.front() == '.' || path.back() == '.'
        || path.find("..") != std::string_view::npos)
      return make_error(errc::invalid_input,
                        "invalid template path \"" + std::string{path} + "\"");
    if (!literal.empty())
      t.pieces_.push_back({false, std::move(literal)});
    literal.clear();
    t.pieces_.push_back({true, std::string{path}});
    i = close + 2;
  }
  if (!literal.empty())
    t.pieces_.push_back({false, std::move(literal)});
  return t;
}

bool text_template::has_references() const noexcept {
  for (const auto& p : pieces_)
    if (p.reference)
      return true;
  return false;
}

std::string text_template::render(event_lookup& lookup,
                                  std::vector<std::string>& missing) const {
  return render([&](std::string_view path) { return lookup.get(path); },
                missing);
}

std::string text_template::render(
    const std::function<std::optional<std::string>(std::string_view)>& lookup,
    std::vector<std::string>& missing) const {
  std::string out;
  for (const auto& p : pieces_) {
    if (!p.reference) {
      out += p.text;
      continue;
    }
    if (auto v = lookup(p.text))
      out += *v;
    else
      missing.push_back(p.text);
  }
  return out;
}

} // namespace rouse::tmpl
