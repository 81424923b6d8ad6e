// Helpers for wire tests: encode a message, frame it back, decode it.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "proxy/wire/frame.h"
#include "proxy/wire/writer.h"

namespace sg::wire::testing {

// Encodes `msg` into `storage` and returns the single frame it must form.
template <typename Msg>
Frame encode_to_frame(const Msg& msg, std::string& storage) {
    storage.clear();
    MessageWriter w(storage);
    encode(msg, w);
    EXPECT_FALSE(w.in_message());
    const FrameStatus status = parse_frame(as_bytes(storage));
    EXPECT_TRUE(std::holds_alternative<Frame>(status));
    const Frame frame = std::get<Frame>(status);
    EXPECT_EQ(frame.size, storage.size()) << "exactly one frame";
    return frame;
}

// Encode → frame → decode; the storage must outlive the returned message's views.
template <typename Msg>
Msg round_trip(const Msg& msg, std::string& storage) {
    const Frame frame = encode_to_frame(msg, storage);
    EXPECT_EQ(frame.type, Msg::kType);
    Msg out;
    const Status status = decode(frame.body, out);
    EXPECT_TRUE(status.ok()) << status.error();
    return out;
}

// Every strict prefix of the body must be rejected: no field may be read past the end.
template <typename Msg>
void expect_prefixes_rejected(const Msg& msg) {
    std::string storage;
    const Frame frame = encode_to_frame(msg, storage);
    for (std::size_t n = 0; n < frame.body.size(); ++n) {
        Msg out;
        EXPECT_FALSE(decode(frame.body.first(n), out).ok()) << "prefix of " << n << " bytes";
    }
}

inline std::string bytes_to_string(Bytes b) {
    return std::string(as_chars(b));
}

}  // namespace sg::wire::testing
