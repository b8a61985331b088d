// Run token issue and verification over OpenSSL's HMAC (runtime/webhook).
#include "runtime/api/run_token.hpp"

#include "runtime/webhook/crypto.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace rouse::api {

run_tokens::run_tokens() : secret_(32, '\0') {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()),
                 static_cast<int>(secret_.size()))
      != 1)
    throw std::runtime_error("rouse: no random bytes for run tokens");
}

std::string run_tokens::issue(std::string_view run_id) const {
  std::string token{run_id};
  token += '.';
  token += webhook::hex_encode(
      webhook::hmac(webhook::digest::sha256, secret_, {run_id}));
  return token;
}

std::optional<std::string> run_tokens::verify(std::string_view token) const {
  auto dot = token.rfind('.');
  if (dot == std::string_view::npos || dot == 0)
    return std::nullopt;
  auto run_id = token.substr(0, dot);
  auto expected = issue(run_id);
  if (!webhook::equal_digests(expected, token))
    return std::nullopt;
  return std::string{run_id};
}

} // namespace rouse::api
