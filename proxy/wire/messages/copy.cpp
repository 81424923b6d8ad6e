#include "proxy/wire/messages/copy.h"

#include "proxy/wire/reader.h"

namespace sg::wire {

Status decode(Bytes body, CopyData& out) {
    out.data = body;
    return {};
}

void encode(const CopyData& msg, MessageWriter& w) {
    w.begin(CopyData::kType);
    w.bytes(msg.data);
    w.end();
}

Status decode(Bytes body, CopyFail& out) {
    BodyReader r(body);
    r.cstr(out.message);
    return r.finish();
}

void encode(const CopyFail& msg, MessageWriter& w) {
    w.begin(CopyFail::kType);
    w.cstr(msg.message);
    w.end();
}

Status decode_copy_response_body(Bytes body, std::int8_t& format,
                                 std::vector<std::int16_t>& column_formats) {
    BodyReader r(body);
    std::uint8_t overall = 0;
    std::uint16_t count = 0;
    column_formats.clear();
    r.u8(overall);
    if (r.u16(count) && r.count_fits(count, 2)) {
        column_formats.resize(count);
        for (auto& f : column_formats) r.i16(f);
    }
    format = static_cast<std::int8_t>(overall);
    return r.finish();
}

void encode_copy_response(char type, std::int8_t format,
                          const std::vector<std::int16_t>& column_formats, MessageWriter& w) {
    w.begin(type);
    w.u8(static_cast<std::uint8_t>(format));
    w.u16(static_cast<std::uint16_t>(column_formats.size()));
    for (std::int16_t f : column_formats) w.i16(f);
    w.end();
}

}  // namespace sg::wire
