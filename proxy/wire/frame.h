// Framing: splitting a byte stream into PostgreSQL messages, separate from decoding them.
//
// The parsers only look at a buffer; they never consume, copy or allocate. A caller keeps
// reading until the buffer holds a whole frame, handles the frame, then drops frame.size bytes.
// A partial frame is therefore never consumed, and a length field is judged before anything is
// buffered for it: a length above the limit is Malformed at once, so a peer claiming gigabytes
// costs nothing.
//
// Lengths are PostgreSQL's: the int32 after the type byte counts itself and the body, not the
// type byte; `max_length` bounds that field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "proxy/wire/bytes.h"
#include "proxy/wire/protocol.h"

namespace sg::wire {

// The buffer must hold at least `at_least` bytes in total (from its start) before parsing can
// make progress.
struct NeedMore {
    std::size_t at_least;
};

// The stream cannot be framed: the connection must be closed (after an ErrorResponse where the
// phase allows one), since there is no way to find the next message boundary.
struct Malformed {
    std::string_view reason;
};

// One whole message of the normal phase.
struct Frame {
    char type;
    Bytes body;        // the bytes after the length field
    std::size_t size;  // bytes the frame occupies in the buffer: 1 + length
};

using FrameStatus = std::variant<NeedMore, Frame, Malformed>;

inline constexpr std::size_t kFrameHeaderSize = 5;  // type byte + int32 length

FrameStatus parse_frame(Bytes buffer, std::size_t max_length = kMaxMessageLength);

// What the first packet of a connection asks for, from its version code.
enum class StartupKind {
    Startup,              // StartupMessage, protocol 3.x
    SslRequest,           // answer 'S' and start TLS, or 'N'
    GssEncRequest,        // answer 'N' (GSS encryption is not offered)
    CancelRequest,        // body: process id, secret key
    UnsupportedProtocol,  // a well-framed packet with a version we cannot serve: a FATAL error
};

// One whole packet of the startup phase (no type byte: int32 length, int32 code, body).
struct StartupFrame {
    StartupKind kind;
    std::uint32_t code;  // protocol version or request code
    Bytes body;          // the bytes after the code
    std::size_t size;    // bytes the packet occupies in the buffer: its length
};

using StartupFrameStatus = std::variant<NeedMore, StartupFrame, Malformed>;

inline constexpr std::size_t kStartupHeaderSize = 8;  // int32 length + int32 code

StartupFrameStatus parse_startup_frame(Bytes buffer,
                                       std::size_t max_length = kMaxStartupPacketLength);

}  // namespace sg::wire
