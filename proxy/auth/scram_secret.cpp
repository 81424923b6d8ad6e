#include "proxy/auth/scram_secret.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "proxy/auth/base64.h"

namespace sg::auth {

namespace {

// Splits `text` at the first `sep`; false when `sep` is absent.
bool split(std::string_view text, char sep, std::string_view& head, std::string_view& tail) {
    const std::size_t at = text.find(sep);
    if (at == std::string_view::npos) return false;
    head = text.substr(0, at);
    tail = text.substr(at + 1);
    return true;
}

bool decode_key(std::string_view b64, Sha256Digest& out) {
    const auto bytes = base64_decode(b64);
    if (!bytes || bytes->size() != out.size()) return false;
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return true;
}

}  // namespace

std::optional<ScramSecret> parse_scram_verifier(std::string_view verifier) {
    std::string_view method, rest, params, keys, iterations, salt, stored, server;
    if (!split(verifier, '$', method, rest) || method != kScramSha256) return std::nullopt;
    if (!split(rest, '$', params, keys)) return std::nullopt;
    if (!split(params, ':', iterations, salt) || !split(keys, ':', stored, server)) {
        return std::nullopt;
    }
    ScramSecret secret;
    const char* end = iterations.data() + iterations.size();
    const auto [ptr, ec] = std::from_chars(iterations.data(), end, secret.iterations);
    if (ec != std::errc{} || ptr != end || secret.iterations < 1) return std::nullopt;
    auto salt_bytes = base64_decode(salt);
    if (!salt_bytes || salt_bytes->empty()) return std::nullopt;
    secret.salt = std::move(*salt_bytes);
    if (!decode_key(stored, secret.stored_key) || !decode_key(server, secret.server_key)) {
        return std::nullopt;
    }
    return secret;
}

std::string to_verifier(const ScramSecret& secret) {
    std::string out(kScramSha256);
    out += '$';
    out += std::to_string(secret.iterations);
    out += ':';
    out += base64_encode(secret.salt);
    out += '$';
    out += base64_encode(secret.stored_key);
    out += ':';
    out += base64_encode(secret.server_key);
    return out;
}

std::optional<ScramClientKeys> derive_scram_keys(std::string_view password, wire::Bytes salt,
                                                 int iterations) {
    const auto salted = pbkdf2_sha256(password, salt, iterations);
    if (!salted) return std::nullopt;
    const auto client_key = hmac_sha256(*salted, wire::as_bytes("Client Key"));
    const auto server_key = hmac_sha256(*salted, wire::as_bytes("Server Key"));
    if (!client_key || !server_key) return std::nullopt;
    const auto stored_key = sha256(*client_key);
    if (!stored_key) return std::nullopt;
    return ScramClientKeys{*client_key, *stored_key, *server_key};
}

std::optional<ScramSecret> derive_scram_secret(std::string_view password, wire::Bytes salt,
                                               int iterations) {
    const auto keys = derive_scram_keys(password, salt, iterations);
    if (!keys) return std::nullopt;
    return ScramSecret{iterations, {salt.begin(), salt.end()}, keys->stored_key, keys->server_key};
}

std::optional<ScramSecret> derive_scram_secret(std::string_view password) {
    std::array<std::uint8_t, kScramSaltLength> salt{};
    if (!random_bytes(salt)) return std::nullopt;
    return derive_scram_secret(password, salt, kDefaultScramIterations);
}

std::optional<std::string> make_scram_verifier(std::string_view password, wire::Bytes salt,
                                               int iterations) {
    const auto secret = derive_scram_secret(password, salt, iterations);
    if (!secret) return std::nullopt;
    return to_verifier(*secret);
}

}  // namespace sg::auth
