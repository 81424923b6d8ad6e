// SCRAM-SHA-256 secrets (RFC 5802/7677) in PostgreSQL's stored form:
//   SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>
// The secret verifies a client without knowing its password, and is what a proxy keeps for a
// configured plain password too: derived once (PBKDF2 is deliberately slow), then reused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/crypto.h"
#include "proxy/wire/bytes.h"

namespace sg::auth {

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
// PostgreSQL's defaults (scram_iterations, SCRAM_DEFAULT_SALT_LEN).
inline constexpr int kDefaultScramIterations = 4096;
inline constexpr std::size_t kScramSaltLength = 16;

struct ScramSecret {
    int iterations = 0;
    std::vector<std::uint8_t> salt;
    Sha256Digest stored_key{};  // H(ClientKey): checks the client's proof
    Sha256Digest server_key{};  // signs the server's final message
};

// std::nullopt unless `verifier` is exactly PostgreSQL's format with 32-byte keys.
std::optional<ScramSecret> parse_scram_verifier(std::string_view verifier);
std::string to_verifier(const ScramSecret& secret);

// The keys a client derives from its password; the server side only keeps the secret.
struct ScramClientKeys {
    Sha256Digest client_key{};
    Sha256Digest stored_key{};
    Sha256Digest server_key{};
};

// Passwords are used as given. PostgreSQL SASLprep-normalizes passwords first, which leaves
// ASCII unchanged; a non-ASCII password that normalization would change differs from
// PostgreSQL's (documented limitation).
std::optional<ScramClientKeys> derive_scram_keys(std::string_view password, wire::Bytes salt,
                                                 int iterations);
std::optional<ScramSecret> derive_scram_secret(std::string_view password, wire::Bytes salt,
                                               int iterations);
// A fresh secret with a random salt and PostgreSQL's default iteration count.
std::optional<ScramSecret> derive_scram_secret(std::string_view password);

// The verifier PostgreSQL would store for this password, salt and iteration count.
std::optional<std::string> make_scram_verifier(std::string_view password, wire::Bytes salt,
                                               int iterations = kDefaultScramIterations);

}  // namespace sg::auth
