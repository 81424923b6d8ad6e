#include "proxy/auth/credential.h"

#include "proxy/auth/md5_password.h"

namespace sg::auth {

wire::Status parse_credential(std::string_view user, std::string_view configured, Credential& out) {
    out = Credential{};
    if (configured.starts_with(kScramSha256) && configured.size() > kScramSha256.size() &&
        configured[kScramSha256.size()] == '$') {
        out.scram_ = parse_scram_verifier(configured);
        return out.scram_ ? wire::Status{} : sg::unexpected("invalid SCRAM-SHA-256 verifier");
    }
    if (is_md5_hash(configured)) {
        out.md5_hash_ = std::string(configured);
        return {};
    }
    out.scram_ = derive_scram_secret(configured);
    out.md5_hash_ = md5_password_hash(user, configured);
    if (!out.scram_ || !out.md5_hash_) return sg::unexpected("password derivation failed");
    return {};
}

}  // namespace sg::auth
