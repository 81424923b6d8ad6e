// What the proxy knows about a client user's password, prepared once when the configuration is
// loaded and shared by every login of that user: the costly SCRAM derivation is not repeated
// per connection.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/auth/scram_secret.h"
#include "proxy/wire/status.h"

namespace sg::auth {

class Credential {
public:
    // The SCRAM secret, if SCRAM-SHA-256 can verify this user.
    const ScramSecret* scram() const { return scram_ ? &*scram_ : nullptr; }
    // The "md5..." hash, if MD5 can verify this user.
    const std::string* md5_hash() const { return md5_hash_ ? &*md5_hash_ : nullptr; }

private:
    friend wire::Status parse_credential(std::string_view, std::string_view, Credential&);

    std::optional<ScramSecret> scram_;
    std::optional<std::string> md5_hash_;
};

// `configured` is a [[users]] password in any form PostgreSQL stores one:
//   - a SCRAM-SHA-256 verifier: SCRAM only (MD5 cannot be computed from it);
//   - an "md5..." hash: MD5 only;
//   - anything else is a plain password: both, derived now (random salt, 4096 iterations).
// A string starting with "SCRAM-SHA-256$" that does not parse is an error, not a password:
// it is almost surely a mangled verifier.
wire::Status parse_credential(std::string_view user, std::string_view configured, Credential& out);

}  // namespace sg::auth
