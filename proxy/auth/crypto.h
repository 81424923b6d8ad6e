// The cryptographic primitives SCRAM-SHA-256 and MD5 authentication need, on OpenSSL.
// They return std::nullopt / false when OpenSSL fails (e.g. no entropy, a provider missing),
// which callers turn into an authentication failure rather than an exception.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "proxy/wire/bytes.h"

namespace sg::auth {

using Sha256Digest = std::array<std::uint8_t, 32>;

std::optional<Sha256Digest> sha256(wire::Bytes data);
std::optional<Sha256Digest> hmac_sha256(wire::Bytes key, wire::Bytes data);
// PBKDF2-HMAC-SHA-256 with one block of output: SCRAM's Hi(password, salt, iterations).
std::optional<Sha256Digest> pbkdf2_sha256(std::string_view password, wire::Bytes salt,
                                          int iterations);
// MD5 as 32 lowercase hex digits, the form PostgreSQL's md5 authentication uses throughout.
std::optional<std::string> md5_hex(wire::Bytes data);

bool random_bytes(std::span<std::uint8_t> out);

// Equality in time independent of where the inputs differ (only of their lengths), so a
// comparison against a secret leaks nothing about it.
bool constant_time_equal(wire::Bytes a, wire::Bytes b);

}  // namespace sg::auth
