#include "proxy/auth/md5_password.h"

#include <algorithm>

#include "proxy/auth/crypto.h"

namespace sg::auth {

namespace {

constexpr std::string_view kPrefix = "md5";
constexpr std::size_t kHashLength = 3 + 32;

}  // namespace

bool is_md5_hash(std::string_view text) {
    return text.size() == kHashLength && text.starts_with(kPrefix) &&
           std::all_of(text.begin() + 3, text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<std::string> md5_password_hash(std::string_view user, std::string_view password) {
    std::string input;
    input.reserve(password.size() + user.size());
    input.append(password).append(user);
    auto hex = md5_hex(wire::as_bytes(input));
    if (!hex) return std::nullopt;
    return std::string(kPrefix) + *hex;
}

std::optional<std::string> md5_salted_response(std::string_view hash, const Md5Salt& salt) {
    if (!is_md5_hash(hash)) return std::nullopt;
    std::string input(hash.substr(kPrefix.size()));
    input.append(reinterpret_cast<const char*>(salt.data()), salt.size());
    auto hex = md5_hex(wire::as_bytes(input));
    if (!hex) return std::nullopt;
    return std::string(kPrefix) + *hex;
}

}  // namespace sg::auth
