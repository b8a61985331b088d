// Request-target decoding and header checks (see wire.hpp).
#include "runtime/http/wire.hpp"

#include <charconv>

namespace rouse::http {

namespace {

bool is_token_char(unsigned char c) {
  if (c >= 'a' && c <= 'z')
    return true;
  if (c >= 'A' && c <= 'Z')
    return true;
  if (c >= '0' && c <= '9')
    return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(static_cast<char>(c))
         != std::string_view::npos;
}

} // namespace

bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.reserve(out.size() + in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char ch = in[i];
    if (ch == '%') {
      if (i + 2 >= in.size())
        return false;
      const char* hex = in.data() + i + 1;
      unsigned byte = 0;
      auto [end, ec] = std::from_chars(hex, hex + 2, byte, 16);
      if (ec != std::errc{} || end != hex + 2 || byte == 0)
        return false;
      ch = static_cast<char>(byte);
      i += 2;
    } else if (ch == '+' && plus_is_space) {
      ch = ' ';
    }
    out += ch;
  }
  return true;
}

bool parse_target(std::string_view target, std::string& path,
                  std::vector<std::pair<std::string, std::string>>& query) {
  if (target == "*") {
    path = "*";
    return true;
  }
  if (target.empty())
    return false;
  if (target.front() != '/') {
    // absolute-form (RFC 7230 section 5.3.2): skip scheme and authority.
    auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos)
      return false;
    auto path_begin = target.find_first_of("/?", scheme_end + 3);
    if (path_begin == std::string_view::npos)
      target = {};
    else
      target.remove_prefix(path_begin);
  }
  auto question = target.find('?');
  auto raw_path = target.substr(0, question);
  if (raw_path.empty())
    path = "/";
  else if (!percent_decode(raw_path, false, path))
    return false;
  if (question == std::string_view::npos)
    return true;
  auto rest = target.substr(question + 1);
  rest = rest.substr(0, rest.find('#'));
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{}
                                         : rest.substr(amp + 1);
    if (part.empty())
      continue;
    auto eq = part.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(part.substr(0, eq), true, key))
      return false;
    if (eq != std::string_view::npos
        && !percent_decode(part.substr(eq + 1), true, value))
      return false;
    query.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

bool is_field_value(std::string_view value) {
  return value.find_first_of(std::string_view{"\r\n\0", 3})
         == std::string_view::npos;
}

bool is_extra_header_allowed(const header& h) {
  if (h.name.empty() || !is_field_value(h.value))
    return false;
  for (char c : h.name)
    if (!is_token_char(static_cast<unsigned char>(c)))
      return false;
  for (std::string_view own : {"server", "content-length", "content-type",
                               "connection", "transfer-encoding"})
    if (detail::iequals(h.name, own))
      return false;
  return true;
}

} // namespace rouse::http
