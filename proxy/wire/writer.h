// Appends PostgreSQL messages to a caller-owned buffer (pgbouncer's pktbuf idea).
//
// begin(type) writes the type byte and a placeholder length; end() patches the length once the
// body is known, so a message is built in place with no temporary. The buffer is the caller's
// (typically a session's output buffer, cleared and reused after each write), so once its
// capacity has grown to the working size no message costs an allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/wire/bytes.h"

namespace sg::wire {

class MessageWriter {
public:
    explicit MessageWriter(std::string& out) : out_(out) {}

    // Opens a message. Messages do not nest: every begin() is closed by end() first.
    void begin(char type);
    // Opens a startup-phase packet (StartupMessage, SSLRequest, CancelRequest): no type byte.
    void begin_untyped();
    // Closes the open message, writing its length (which counts itself but not the type byte).
    void end();

    // A message with an empty body (Sync, ParseComplete, ...).
    void empty_message(char type) {
        begin(type);
        end();
    }

    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void i16(std::int16_t v) { u16(static_cast<std::uint16_t>(v)); }
    void u16(std::uint16_t v);
    void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
    void u32(std::uint32_t v);
    // A NUL-terminated string. Precondition: `s` contains no NUL (the receiver would read a
    // shorter string and then misparse the rest of the message).
    void cstr(std::string_view s);
    void bytes(Bytes b) { out_.append(reinterpret_cast<const char*>(b.data()), b.size()); }
    void bytes(std::string_view s) { out_.append(s); }
    // Already-framed bytes passed through unchanged (e.g. a shard's reply relayed to a client).
    void raw(Bytes frames) { bytes(frames); }

    bool in_message() const { return open_ != kNone; }
    std::string& buffer() { return out_; }

private:
    static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

    std::string& out_;
    std::size_t open_ = kNone;  // offset of the open message's length field
};

}  // namespace sg::wire
