// The startup phase: the packets a client sends before it has a session (no type byte), and
// NegotiateProtocolVersion, the server's answer to a newer 3.x minor version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/wire/frame.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/status.h"
#include "proxy/wire/writer.h"

namespace sg::wire {

struct StartupParameter {
    std::string_view name;
    std::string_view value;
};

struct StartupMessage {
    std::uint32_t protocol = kProtocolVersion3;
    std::vector<StartupParameter> parameters;  // in the client's order, "_pq_." options included

    // The value of a parameter, empty when absent. A repeated name means its last value, as
    // PostgreSQL applies parameters in order.
    std::string_view get(std::string_view name) const;
    bool has(std::string_view name) const;

    std::string_view user() const { return get("user"); }
    // PostgreSQL's rule: the database defaults to the user name.
    std::string_view database() const;
    std::string_view options() const { return get("options"); }
    std::string_view application_name() const { return get("application_name"); }
};

// Decodes the packet of a StartupKind::Startup frame. A missing user is not a framing error;
// the session answers it with 28000 "no PostgreSQL user name specified in startup packet".
Status decode(const StartupFrame& frame, StartupMessage& out);
void encode(const StartupMessage& msg, MessageWriter& w);

struct CancelRequest {
    std::int32_t process_id = 0;
    std::int32_t secret_key = 0;
};

Status decode(const StartupFrame& frame, CancelRequest& out);
void encode(const CancelRequest& msg, MessageWriter& w);

// SSLRequest and GSSENCRequest carry nothing but their code; the proxy sends them to shards.
void encode_ssl_request(MessageWriter& w);
void encode_gssenc_request(MessageWriter& w);

// The single-byte answers to SSLRequest/GSSENCRequest (not framed messages).
inline constexpr char kSslAccepted = 'S';
inline constexpr char kSslRefused = 'N';

struct NegotiateProtocolVersion {
    static constexpr char kType = be::kNegotiateProtocolVersion;
    std::int32_t newest_minor = 0;               // the newest 3.x minor the server speaks
    std::vector<std::string_view> unrecognized;  // "_pq_." options it does not understand
};

Status decode(Bytes body, NegotiateProtocolVersion& out);
void encode(const NegotiateProtocolVersion& msg, MessageWriter& w);

// The FATAL message for StartupKind::UnsupportedProtocol, worded as PostgreSQL words it
// ("unsupported frontend protocol 2.0: server supports 3.0 to 3.0").
std::string unsupported_protocol_message(std::uint32_t code);

}  // namespace sg::wire
