// Bounds-checked, front-to-back reading of one message body (network byte order).
//
// Invariant: no read touches a byte outside the body. Every read checks the remaining length
// first, so a lying count or a missing NUL terminator becomes an error, never an out-of-bounds
// read. After the first failure every further read is a no-op returning false and status()
// keeps that first reason, so decoders can read a whole layout and check once in finish().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "proxy/wire/bytes.h"
#include "proxy/wire/status.h"

namespace sg::wire {

class BodyReader {
public:
    explicit BodyReader(Bytes body) : rest_(body) {}

    bool u8(std::uint8_t& out) {
        if (!need(1)) return false;
        out = rest_[0];
        rest_ = rest_.subspan(1);
        return true;
    }

    bool u16(std::uint16_t& out) {
        if (!need(2)) return false;
        out = static_cast<std::uint16_t>((rest_[0] << 8) | rest_[1]);
        rest_ = rest_.subspan(2);
        return true;
    }

    bool i16(std::int16_t& out) {
        std::uint16_t v = 0;
        if (!u16(v)) return false;
        out = static_cast<std::int16_t>(v);
        return true;
    }

    bool u32(std::uint32_t& out) {
        if (!need(4)) return false;
        out = (std::uint32_t{rest_[0]} << 24) | (std::uint32_t{rest_[1]} << 16) |
              (std::uint32_t{rest_[2]} << 8) | std::uint32_t{rest_[3]};
        rest_ = rest_.subspan(4);
        return true;
    }

    bool i32(std::int32_t& out) {
        std::uint32_t v = 0;
        if (!u32(v)) return false;
        out = static_cast<std::int32_t>(v);
        return true;
    }

    // A NUL-terminated string; `out` excludes the terminator.
    bool cstr(std::string_view& out) {
        if (failed()) return false;
        const void* nul = std::memchr(rest_.data(), 0, rest_.size());
        if (nul == nullptr) return fail_with("missing string terminator");
        const auto len =
            static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - rest_.data());
        out = as_chars(rest_.first(len));
        rest_ = rest_.subspan(len + 1);
        return true;
    }

    bool bytes(std::size_t n, Bytes& out) {
        if (!need(n)) return false;
        out = rest_.first(n);
        rest_ = rest_.subspan(n);
        return true;
    }

    // Everything not read yet (for messages whose last field runs to the end of the body).
    Bytes take_rest() {
        Bytes out = rest_;
        rest_ = {};
        return out;
    }

    // Rejects a count that could not possibly fit: `count` items of at least `min_item_size`
    // bytes each. Checked before reserving, so a forged count never drives an allocation.
    bool count_fits(std::size_t count, std::size_t min_item_size) {
        if (failed()) return false;
        if (min_item_size != 0 && count > rest_.size() / min_item_size)
            return fail_with("count exceeds message length");
        return true;
    }

    bool fail_with(const char* reason) {
        if (!failed()) status_ = sg::unexpected(reason);
        return false;
    }

    std::size_t remaining() const { return rest_.size(); }
    bool failed() const { return !status_.ok(); }
    Status status() const { return status_; }

    // The message must have been consumed exactly: trailing bytes mean the sender and we
    // disagree about the layout, which PostgreSQL also rejects ("invalid message format").
    Status finish() const {
        if (failed()) return status_;
        if (!rest_.empty()) return sg::unexpected("invalid message format: trailing bytes");
        return {};
    }

private:
    bool need(std::size_t n) {
        if (failed()) return false;
        if (rest_.size() < n) return fail_with("message truncated");
        return true;
    }

    Bytes rest_;
    Status status_;
};

}  // namespace sg::wire
