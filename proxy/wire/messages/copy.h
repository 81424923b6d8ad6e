// COPY sub-protocol. CopyData and CopyDone flow in both directions with the same layout;
// CopyIn/Out/BothResponse share one body layout and differ only in the type byte.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/wire/messages/empty.h"
#include "proxy/wire/protocol.h"

namespace sg::wire {

struct CopyData {
    static constexpr char kType = fe::kCopyData;
    Bytes data;  // an arbitrary chunk of the stream; rows may span messages
};

Status decode(Bytes body, CopyData& out);
void encode(const CopyData& msg, MessageWriter& w);

using CopyDone = EmptyMessage<fe::kCopyDone>;

struct CopyFail {
    static constexpr char kType = fe::kCopyFail;
    std::string_view message;
};

Status decode(Bytes body, CopyFail& out);
void encode(const CopyFail& msg, MessageWriter& w);

template <char Type>
struct CopyResponse {
    static constexpr char kType = Type;
    std::int8_t format = 0;                    // 0 textual, 1 binary (overall)
    std::vector<std::int16_t> column_formats;  // one per column; all 0 when format is 0
};

using CopyInResponse = CopyResponse<be::kCopyInResponse>;
using CopyOutResponse = CopyResponse<be::kCopyOutResponse>;
using CopyBothResponse = CopyResponse<be::kCopyBothResponse>;

Status decode_copy_response_body(Bytes body, std::int8_t& format,
                                 std::vector<std::int16_t>& column_formats);
void encode_copy_response(char type, std::int8_t format,
                          const std::vector<std::int16_t>& column_formats, MessageWriter& w);

template <char Type>
Status decode(Bytes body, CopyResponse<Type>& out) {
    return decode_copy_response_body(body, out.format, out.column_formats);
}

template <char Type>
void encode(const CopyResponse<Type>& msg, MessageWriter& w) {
    encode_copy_response(Type, msg.format, msg.column_formats, w);
}

}  // namespace sg::wire
