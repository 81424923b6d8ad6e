#include "proxy/wire/frame.h"

namespace sg::wire {

namespace {

std::uint32_t read_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

StartupKind startup_kind(std::uint32_t code) {
    switch (code) {
        case kNegotiateSslCode:
            return StartupKind::SslRequest;
        case kNegotiateGssCode:
            return StartupKind::GssEncRequest;
        case kCancelRequestCode:
            return StartupKind::CancelRequest;
        default:
            // Any 3.x is served: a newer minor is answered with NegotiateProtocolVersion.
            return protocol_major(code) == 3 ? StartupKind::Startup
                                             : StartupKind::UnsupportedProtocol;
    }
}

// The requests have fixed sizes; anything else is not the request it claims to be.
bool has_valid_length(StartupKind kind, std::uint32_t length) {
    switch (kind) {
        case StartupKind::SslRequest:
        case StartupKind::GssEncRequest:
            return length == 8;
        case StartupKind::CancelRequest:
            return length == 16;
        case StartupKind::Startup:
        case StartupKind::UnsupportedProtocol:
            return true;
    }
    return false;
}

}  // namespace

FrameStatus parse_frame(Bytes buffer, std::size_t max_length) {
    if (buffer.size() < kFrameHeaderSize) return NeedMore{kFrameHeaderSize};
    // Read unsigned: a negative int32 becomes a huge value and fails the limit below.
    const std::uint32_t length = read_u32(buffer.data() + 1);
    if (length < 4) return Malformed{"invalid message length"};
    if (length > max_length) return Malformed{"message length exceeds the maximum message size"};
    const std::size_t size = std::size_t{1} + length;
    if (buffer.size() < size) return NeedMore{size};
    return Frame{static_cast<char>(buffer[0]), buffer.subspan(kFrameHeaderSize, length - 4), size};
}

StartupFrameStatus parse_startup_frame(Bytes buffer, std::size_t max_length) {
    if (buffer.size() < 4) return NeedMore{kStartupHeaderSize};
    const std::uint32_t length = read_u32(buffer.data());
    if (length < kStartupHeaderSize || length > max_length) {
        return Malformed{"invalid length of startup packet"};
    }
    if (buffer.size() < length) return NeedMore{length};
    const std::uint32_t code = read_u32(buffer.data() + 4);
    const StartupKind kind = startup_kind(code);
    if (!has_valid_length(kind, length)) return Malformed{"invalid length of startup packet"};
    return StartupFrame{kind, code, buffer.subspan(kStartupHeaderSize, length - kStartupHeaderSize),
                        length};
}

}  // namespace sg::wire
