#include "proxy/wire/messages/row_data.h"

#include "proxy/wire/reader.h"

namespace sg::wire {

namespace {

// A field: a NUL-terminated name and 18 bytes of fixed attributes.
constexpr std::size_t kMinFieldSize = 1 + 18;

}  // namespace

Status decode(Bytes body, RowDescription& out) {
    BodyReader r(body);
    out.fields.clear();
    std::uint16_t count = 0;
    if (r.u16(count) && r.count_fits(count, kMinFieldSize)) {
        out.fields.resize(count);
        for (auto& f : out.fields) {
            r.cstr(f.name);
            r.u32(f.table_oid);
            r.i16(f.column_attr);
            r.u32(f.type_oid);
            r.i16(f.type_size);
            r.i32(f.type_modifier);
            r.i16(f.format);
        }
    }
    return r.finish();
}

void encode(const RowDescription& msg, MessageWriter& w) {
    w.begin(RowDescription::kType);
    w.u16(static_cast<std::uint16_t>(msg.fields.size()));
    for (const auto& f : msg.fields) {
        w.cstr(f.name);
        w.u32(f.table_oid);
        w.i16(f.column_attr);
        w.u32(f.type_oid);
        w.i16(f.type_size);
        w.i32(f.type_modifier);
        w.i16(f.format);
    }
    w.end();
}

Status decode(Bytes body, DataRow& out) {
    BodyReader r(body);
    out.columns.clear();
    std::uint16_t count = 0;
    if (!r.u16(count) || !r.count_fits(count, 4)) return r.status();
    out.columns.reserve(count);
    for (std::uint16_t i = 0; i < count; ++i) {
        std::int32_t length = 0;
        if (!r.i32(length)) break;
        if (length == -1) {
            out.columns.emplace_back(std::nullopt);
            continue;
        }
        if (length < -1) return sg::unexpected("invalid column length");
        Bytes value;
        if (!r.bytes(static_cast<std::size_t>(length), value)) break;
        out.columns.emplace_back(value);
    }
    return r.finish();
}

void encode_data_row(std::span<const Value> columns, MessageWriter& w) {
    w.begin(DataRow::kType);
    w.u16(static_cast<std::uint16_t>(columns.size()));
    for (const Value& v : columns) {
        if (!v) {
            w.i32(-1);
            continue;
        }
        w.i32(static_cast<std::int32_t>(v->size()));
        w.bytes(*v);
    }
    w.end();
}

void encode(const DataRow& msg, MessageWriter& w) {
    encode_data_row(msg.columns, w);
}

}  // namespace sg::wire
