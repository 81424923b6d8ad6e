// PostgreSQL's MD5 password scheme. The stored form binds the password to the user name:
//   hash     = "md5" + md5hex(password + user)
//   response = "md5" + md5hex(md5hex(password + user) + salt)    (what a client sends)
// so a server (or this proxy) needs only the stored hash, never the password.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg::auth {

using Md5Salt = std::array<std::uint8_t, 4>;

// "md5" followed by 32 lowercase hex digits.
bool is_md5_hash(std::string_view text);

std::optional<std::string> md5_password_hash(std::string_view user, std::string_view password);
// `hash` is a stored hash as returned by md5_password_hash.
std::optional<std::string> md5_salted_response(std::string_view hash, const Md5Salt& salt);

}  // namespace sg::auth
