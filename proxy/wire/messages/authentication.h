// Authentication exchange: the server's Authentication* requests ('R') and the client's
// answers, which all share the type 'p' and can only be told apart by the request they answer.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "proxy/wire/bytes.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/status.h"
#include "proxy/wire/writer.h"

namespace sg::wire {

struct AuthenticationOk {};
struct AuthenticationCleartextPassword {};
struct AuthenticationMD5Password {
    std::array<std::uint8_t, 4> salt{};
};
struct AuthenticationSASL {
    std::vector<std::string_view> mechanisms;  // e.g. "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"
};
struct AuthenticationSASLContinue {
    Bytes data;  // server-first-message
};
struct AuthenticationSASLFinal {
    Bytes data;  // server-final-message
};
// A well-formed request for a method the proxy does not implement (Kerberos, GSS, SSPI).
struct AuthenticationUnsupported {
    std::int32_t code = 0;
};

using Authentication =
    std::variant<AuthenticationOk, AuthenticationCleartextPassword, AuthenticationMD5Password,
                 AuthenticationSASL, AuthenticationSASLContinue, AuthenticationSASLFinal,
                 AuthenticationUnsupported>;

Status decode(Bytes body, Authentication& out);
void encode(const AuthenticationOk& msg, MessageWriter& w);
void encode(const AuthenticationCleartextPassword& msg, MessageWriter& w);
void encode(const AuthenticationMD5Password& msg, MessageWriter& w);
void encode(const AuthenticationSASL& msg, MessageWriter& w);
void encode(const AuthenticationSASLContinue& msg, MessageWriter& w);
void encode(const AuthenticationSASLFinal& msg, MessageWriter& w);
void encode(const Authentication& msg, MessageWriter& w);

// Answer to CleartextPassword (the password) or MD5Password ("md5" + 32 hex digits).
struct PasswordMessage {
    static constexpr char kType = fe::kPasswordMessage;
    std::string_view password;
};

Status decode(Bytes body, PasswordMessage& out);
void encode(const PasswordMessage& msg, MessageWriter& w);

// First answer to AuthenticationSASL: the chosen mechanism and the client-first-message.
struct SASLInitialResponse {
    static constexpr char kType = fe::kSASLInitialResponse;
    std::string_view mechanism;
    std::optional<Bytes> data;  // length -1 on the wire: no initial response
};

Status decode(Bytes body, SASLInitialResponse& out);
void encode(const SASLInitialResponse& msg, MessageWriter& w);

// Later answers in a SASL exchange (client-final-message for SCRAM).
struct SASLResponse {
    static constexpr char kType = fe::kSASLResponse;
    Bytes data;
};

Status decode(Bytes body, SASLResponse& out);
void encode(const SASLResponse& msg, MessageWriter& w);

}  // namespace sg::wire
