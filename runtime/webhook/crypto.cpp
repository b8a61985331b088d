// HMAC through OpenSSL 3's EVP_MAC interface (the HMAC_CTX functions are
// deprecated there), and hand-written codecs so that malformed input is
// reported exactly rather than decoded leniently.
#include "runtime/webhook/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <memory>

namespace rouse::webhook {

namespace {

const char* openssl_name(digest d) noexcept {
  switch (d) {
  case digest::sha1: return "SHA1";
  case digest::sha256: return "SHA256";
  case digest::sha512: return "SHA512";
  }
  return "SHA256";
}

struct mac_deleter {
  void operator()(EVP_MAC* p) const noexcept { EVP_MAC_free(p); }
};

struct mac_ctx_deleter {
  void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
};

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

} // namespace

std::optional<digest> parse_digest(std::string_view name) noexcept {
  if (name == "sha1")
    return digest::sha1;
  if (name == "sha256")
    return digest::sha256;
  if (name == "sha512")
    return digest::sha512;
  return std::nullopt;
}

std::size_t digest_size(digest d) noexcept {
  switch (d) {
  case digest::sha1: return 20;
  case digest::sha256: return 32;
  case digest::sha512: return 64;
  }
  return 32;
}

std::string hmac(digest d, std::string_view key,
                 std::initializer_list<std::string_view> parts) {
  std::unique_ptr<EVP_MAC, mac_deleter> mac{
      EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
  if (!mac)
    return {};
  std::unique_ptr<EVP_MAC_CTX, mac_ctx_deleter> ctx{EVP_MAC_CTX_new(mac.get())};
  if (!ctx)
    return {};
  // OSSL_PARAM wants a mutable char*; OpenSSL only reads the name.
  std::string name = openssl_name(d);
  std::array<OSSL_PARAM, 2> params{
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name.data(), 0),
      OSSL_PARAM_construct_end()};
  // A null key pointer means "keep the previous key" to OpenSSL; an empty key
  // must still be a valid pointer.
  static const unsigned char empty_key = 0;
  auto key_ptr = key.empty()
                     ? &empty_key
                     : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), key_ptr, key.size(), params.data()) != 1)
    return {};
  for (auto part : parts)
    if (!part.empty()
        && EVP_MAC_update(ctx.get(),
                          reinterpret_cast<const unsigned char*>(part.data()),
                          part.size())
               != 1)
      return {};
  std::string out(EVP_MAX_MD_SIZE, '\0');
  size_t out_len = 0;
  if (EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()),
                    &out_len, out.size())
      != 1)
    return {};
  out.resize(out_len);
  return out;
}

std::string hex_encode(std::string_view bytes) {
  constexpr std::string_view digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 0x0Fu];
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = hex_value(text[i]);
    int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) -> uint32_t {
    return static_cast<unsigned char>(bytes[k]);
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += base64_alphabet[(v >> 18) & 63];
    out += base64_alphabet[(v >> 12) & 63];
    out += base64_alphabet[(v >> 6) & 63];
    out += base64_alphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = at(i) << 16;
    out += base64_alphabet[(v >> 18) & 63];
    out += base64_alphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8);
    out += base64_alphabet[(v >> 18) & 63];
    out += base64_alphabet[(v >> 12) & 63];
    out += base64_alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 == 0 && !text.empty()) {
    size_t pad = 0;
    while (pad < 2 && text[text.size() - 1 - pad] == '=')
      ++pad;
    text.remove_suffix(pad);
  }
  // Unpadded text of 4k+1 characters cannot come from any byte string.
  if (text.size() % 4 == 1)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = base64_value(c);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFFu);
    }
  }
  return out;
}

bool equal_digests(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size()
         && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool equal_secrets(std::string_view a, std::string_view b) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> ha{};
  std::array<unsigned char, EVP_MAX_MD_SIZE> hb{};
  unsigned ha_len = 0;
  unsigned hb_len = 0;
  if (EVP_Digest(a.data(), a.size(), ha.data(), &ha_len, EVP_sha256(), nullptr)
          != 1
      || EVP_Digest(b.data(), b.size(), hb.data(), &hb_len, EVP_sha256(),
                    nullptr)
             != 1)
    return false;
  return ha_len == hb_len && CRYPTO_memcmp(ha.data(), hb.data(), ha_len) == 0;
}

} // namespace rouse::webhook
