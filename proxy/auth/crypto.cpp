#include "proxy/auth/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace sg::auth {

std::optional<Sha256Digest> sha256(wire::Bytes data) {
    Sha256Digest out{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
        len != out.size()) {
        return std::nullopt;
    }
    return out;
}

std::optional<Sha256Digest> hmac_sha256(wire::Bytes key, wire::Bytes data) {
    Sha256Digest out{};
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
             out.data(), &len) == nullptr ||
        len != out.size()) {
        return std::nullopt;
    }
    return out;
}

std::optional<Sha256Digest> pbkdf2_sha256(std::string_view password, wire::Bytes salt,
                                          int iterations) {
    Sha256Digest out{};
    if (iterations < 1 ||
        PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                          static_cast<int>(salt.size()), iterations, EVP_sha256(),
                          static_cast<int>(out.size()), out.data()) != 1) {
        return std::nullopt;
    }
    return out;
}

std::optional<std::string> md5_hex(wire::Bytes data) {
    std::array<std::uint8_t, 16> digest{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_md5(), nullptr) != 1 ||
        len != digest.size()) {
        return std::nullopt;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(32, '\0');
    for (std::size_t i = 0; i < digest.size(); ++i) {
        out[2 * i] = kHex[digest[i] >> 4];
        out[2 * i + 1] = kHex[digest[i] & 15];
    }
    return out;
}

bool random_bytes(std::span<std::uint8_t> out) {
    return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

bool constant_time_equal(wire::Bytes a, wire::Bytes b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sg::auth
