#include "proxy/http/basic_auth.h"

#include <cctype>
#include <string>

#include "proxy/auth/base64.h"
#include "proxy/auth/crypto.h"

namespace sg::http {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

}  // namespace

bool basic_auth_ok(std::string_view authorization, std::string_view expected) {
    const std::string_view h = trim(authorization);
    const size_t space = h.find(' ');
    if (space == std::string_view::npos || !iequals(h.substr(0, space), "Basic")) return false;
    auto decoded = auth::base64_decode(trim(h.substr(space + 1)));
    if (!decoded) return false;
    // Digests of equal length whatever the inputs' lengths: the comparison's time says nothing
    // about the secret.
    auto got = auth::sha256(wire::Bytes(decoded->data(), decoded->size()));
    auto want = auth::sha256(wire::as_bytes(expected));
    if (!got || !want) return false;
    return auth::constant_time_equal(wire::Bytes(got->data(), got->size()),
                                     wire::Bytes(want->data(), want->size()));
}

}  // namespace sg::http
