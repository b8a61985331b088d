// The byte-level tools webhook verification is built from: HMAC over several
// parts (OpenSSL EVP_MAC), hex and base64 codecs, constant-time comparison.
// Decoders return nullopt for malformed input and never read past it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace rouse::webhook {

/// A digest usable in an HMAC.
enum class digest : uint8_t { sha1, sha256, sha512 };

/// Returns the digest named "sha1", "sha256" or "sha512", or nullopt.
std::optional<digest> parse_digest(std::string_view name) noexcept;

/// Returns the size of a `d` digest in bytes (20, 32 or 64).
std::size_t digest_size(digest d) noexcept;

/// Returns the HMAC of the concatenation of `parts` under `key`, as raw bytes.
/// Concatenating through parts avoids copying a large body next to a short
/// prefix. Returns an empty string if OpenSSL fails (it does not for these
/// digests short of memory exhaustion), which then matches no signature.
std::string hmac(digest d, std::string_view key,
                 std::initializer_list<std::string_view> parts);

/// Returns `bytes` as lower-case hex.
std::string hex_encode(std::string_view bytes);

/// Returns the bytes of hex text (either case, even length), or nullopt.
std::optional<std::string> hex_decode(std::string_view text);

/// Returns `bytes` as standard base64 (RFC 4648 section 4) with padding.
std::string base64_encode(std::string_view bytes);

/// Returns the bytes of standard base64 text, or nullopt. Padding is optional,
/// but if present it must be correct; whitespace and the URL-safe alphabet are
/// rejected.
std::optional<std::string> base64_decode(std::string_view text);

/// Returns true if `a` and `b` are equal, in time that depends only on their
/// lengths (CRYPTO_memcmp). Use it for digests, whose length is public.
bool equal_digests(std::string_view a, std::string_view b) noexcept;

/// Returns true if `a` and `b` are equal, in time independent of their
/// contents and of where they differ: both are hashed with SHA-256 and the
/// hashes compared in constant time, so a shared token's length does not leak
/// either.
bool equal_secrets(std::string_view a, std::string_view b);

} // namespace rouse::webhook
