// HTTP Basic authentication (RFC 7617) for the report pages of [admin] http_listen: the
// configured "user:password" ([admin] http_auth) against a request's Authorization header.
//
// The comparison hashes both sides with SHA-256 and compares the digests in constant time, so
// neither where the texts differ nor the configured secret's length shows in the timing.
#pragma once

#include <string_view>

namespace sg::http {

// The challenge a 401 carries, so browsers ask for the credentials.
inline constexpr std::string_view kBasicChallenge = "Basic realm=\"shardgate\", charset=\"UTF-8\"";

// True when `authorization` is "Basic <base64 of user:password>" (scheme case-insensitive,
// surrounding blanks ignored) and the decoded credentials equal `expected`.
bool basic_auth_ok(std::string_view authorization, std::string_view expected);

}  // namespace sg::http
