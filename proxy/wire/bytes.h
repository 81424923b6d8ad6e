// Byte views shared by the whole wire layer. A decoded message points into the frame it came
// from, so nothing is copied on the data path; the frame's buffer must outlive the message.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sg::wire {

using Bytes = std::span<const std::uint8_t>;

// A parameter or column value; std::nullopt is SQL NULL (length -1 on the wire).
using Value = std::optional<Bytes>;

inline Bytes as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string_view as_chars(Bytes b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace sg::wire
