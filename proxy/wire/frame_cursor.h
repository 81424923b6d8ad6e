// Walking a buffer of whole frames the proxy has already framed (a shard's reply gathered by a
// server connection, a client's batch split by the session). The stream parser (frame.h) is
// what judges bytes from a socket; this cursor is for buffers built from its output, and is
// the one place outside it that reads a frame header, so no caller hand-decodes lengths.
//
// Invariant: next() yields only whole frames, in order, and stops (for good) at the first
// frame that is partial or whose length field is below 4: a caller can never read past the
// buffer, and at_end() tells whether every byte belonged to a whole frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sg::wire {

// The big-endian (network order) unsigned 32-bit integer at `p`, PostgreSQL's integer order.
inline std::uint32_t load_be32(const void* p) {
    const auto* b = static_cast<const unsigned char*>(p);
    return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) |
           std::uint32_t(b[3]);
}

// One whole frame inside the walked buffer.
struct FrameView {
    char type;
    std::string_view body;   // the bytes after the length field
    std::string_view whole;  // type byte, length and body
    std::size_t offset;      // where `whole` starts in the buffer
};

class FrameCursor {
public:
    explicit FrameCursor(std::string_view frames) : buf_(frames) {}

    std::optional<FrameView> next() {
        if (stopped_ || buf_.size() - pos_ < 5) {
            stopped_ = true;
            return std::nullopt;
        }
        const std::size_t len = load_be32(buf_.data() + pos_ + 1);
        if (len < 4 || len > buf_.size() - pos_ - 1) {
            stopped_ = true;
            return std::nullopt;
        }
        FrameView f{buf_[pos_], buf_.substr(pos_ + 5, len - 4), buf_.substr(pos_, len + 1), pos_};
        pos_ += len + 1;
        return f;
    }

    // Bytes of whole frames walked so far.
    std::size_t offset() const { return pos_; }
    // Every byte of the buffer belonged to a whole frame that next() returned.
    bool at_end() const { return pos_ == buf_.size(); }

private:
    std::string_view buf_;
    std::size_t pos_ = 0;
    bool stopped_ = false;
};

}  // namespace sg::wire
