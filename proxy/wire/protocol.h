// Constants of the PostgreSQL v3 protocol, named after PostgreSQL's own (pqcomm.h's request
// codes, protocol.h's PqMsg_* and AUTH_REQ_*), so the source reads side by side with the docs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sg::wire {

// PG_PROTOCOL(major, minor): the startup packet's version code.
constexpr std::uint32_t pg_protocol(std::uint32_t major, std::uint32_t minor) {
    return (major << 16) | minor;
}
constexpr std::uint32_t protocol_major(std::uint32_t code) {
    return code >> 16;
}
constexpr std::uint32_t protocol_minor(std::uint32_t code) {
    return code & 0xFFFF;
}

inline constexpr std::uint32_t kProtocolVersion3 = pg_protocol(3, 0);         // 196608
inline constexpr std::uint32_t kCancelRequestCode = pg_protocol(1234, 5678);  // 80877102
inline constexpr std::uint32_t kNegotiateSslCode = pg_protocol(1234, 5679);   // 80877103
inline constexpr std::uint32_t kNegotiateGssCode = pg_protocol(1234, 5680);   // 80877104

// MAX_STARTUP_PACKET_LENGTH: PostgreSQL refuses longer startup packets before authentication,
// so an unauthenticated peer cannot make the server buffer much.
inline constexpr std::size_t kMaxStartupPacketLength = 10000;
// PQ_LARGE_MESSAGE_LIMIT: the largest message PostgreSQL itself accepts after startup.
inline constexpr std::size_t kMaxMessageLength = 0x3fffffff;

// Message type bytes sent by the client (PqMsg_*).
namespace fe {
inline constexpr char kBind = 'B';
inline constexpr char kClose = 'C';
inline constexpr char kDescribe = 'D';
inline constexpr char kExecute = 'E';
inline constexpr char kFunctionCall = 'F';
inline constexpr char kFlush = 'H';
inline constexpr char kParse = 'P';
inline constexpr char kQuery = 'Q';
inline constexpr char kSync = 'S';
inline constexpr char kTerminate = 'X';
inline constexpr char kCopyFail = 'f';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
// One type byte for every authentication answer; which one it is depends on the request.
inline constexpr char kPasswordMessage = 'p';
inline constexpr char kSASLInitialResponse = 'p';
inline constexpr char kSASLResponse = 'p';
inline constexpr char kGSSResponse = 'p';
}  // namespace fe

// Message type bytes sent by the server (PqMsg_*).
namespace be {
inline constexpr char kParseComplete = '1';
inline constexpr char kBindComplete = '2';
inline constexpr char kCloseComplete = '3';
inline constexpr char kNotificationResponse = 'A';
inline constexpr char kCommandComplete = 'C';
inline constexpr char kDataRow = 'D';
inline constexpr char kErrorResponse = 'E';
inline constexpr char kCopyInResponse = 'G';
inline constexpr char kCopyOutResponse = 'H';
inline constexpr char kEmptyQueryResponse = 'I';
inline constexpr char kBackendKeyData = 'K';
inline constexpr char kNoticeResponse = 'N';
inline constexpr char kAuthenticationRequest = 'R';
inline constexpr char kParameterStatus = 'S';
inline constexpr char kRowDescription = 'T';
inline constexpr char kFunctionCallResponse = 'V';
inline constexpr char kCopyBothResponse = 'W';
inline constexpr char kReadyForQuery = 'Z';
inline constexpr char kNoData = 'n';
inline constexpr char kPortalSuspended = 's';
inline constexpr char kParameterDescription = 't';
inline constexpr char kNegotiateProtocolVersion = 'v';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
}  // namespace be

// The code of an Authentication* message (AUTH_REQ_*).
enum class AuthRequest : std::int32_t {
    Ok = 0,
    KerberosV5 = 2,
    CleartextPassword = 3,
    MD5Password = 5,
    GSS = 7,
    GSSContinue = 8,
    SSPI = 9,
    SASL = 10,
    SASLContinue = 11,
    SASLFinal = 12,
};

// The name of a message type for logs and errors; empty for a type the direction does not
// have, which a session treats as a protocol violation (08P01).
std::string_view frontend_message_name(char type);
std::string_view backend_message_name(char type);

}  // namespace sg::wire
