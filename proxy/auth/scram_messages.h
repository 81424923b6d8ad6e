// The four SCRAM-SHA-256 messages as PostgreSQL exchanges them (RFC 5802 §7, no channel
// binding). Parsing is strict: attributes in the RFC's order, nonces printable without ',',
// base64 valid; anything else is a malformed exchange. Views point into the parsed text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/crypto.h"
#include "proxy/wire/status.h"

namespace sg::auth {

// client-first-message = gs2-header client-first-message-bare
struct ClientFirstMessage {
    char cbind_flag = 'n';        // 'n' or 'y'; 'p' is refused since -PLUS is never offered
    std::string_view gs2_header;  // "n,," or "y,,", echoed (base64) in client-final's c=
    std::string_view bare;        // "n=<user>,r=<nonce>[,ext...]", part of AuthMessage
    std::string_view user;        // ignored, as by PostgreSQL: the startup packet names the user
    std::string_view nonce;
};

wire::Status parse_client_first(std::string_view text, ClientFirstMessage& out);

// server-first-message = r=<client+server nonce>,s=<salt>,i=<iterations>
struct ServerFirstMessage {
    std::string_view nonce;
    std::vector<std::uint8_t> salt;
    int iterations = 0;
};

wire::Status parse_server_first(std::string_view text, ServerFirstMessage& out);
std::string make_server_first(std::string_view nonce, std::string_view salt_b64, int iterations);

// client-final-message = c=<base64 gs2 header>,r=<nonce>[,ext...],p=<proof>
struct ClientFinalMessage {
    std::string_view channel_binding;  // still base64
    std::string_view nonce;
    std::string_view without_proof;  // everything before ",p=", part of AuthMessage
    Sha256Digest proof{};
};

wire::Status parse_client_final(std::string_view text, ClientFinalMessage& out);

// server-final-message = v=<signature> | e=<error>
struct ServerFinalMessage {
    std::optional<Sha256Digest> signature;
    std::string_view error;  // set when the server reported an error instead
};

wire::Status parse_server_final(std::string_view text, ServerFinalMessage& out);

// True if `nonce` is non-empty printable ASCII without ',' (RFC 5802 "printable").
bool is_valid_nonce(std::string_view nonce);
// A fresh nonce: 18 random bytes in base64, as PostgreSQL makes them.
std::optional<std::string> make_nonce();

}  // namespace sg::auth
