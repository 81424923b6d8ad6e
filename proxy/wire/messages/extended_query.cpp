#include "proxy/wire/messages/extended_query.h"

#include "proxy/wire/reader.h"

namespace sg::wire {

namespace {

// Counts of formats, parameters and types are uint16 on the wire (PostgreSQL reads them with
// pq_getmsgint(msg, 2), and libpq allows up to 65535 parameters).
void read_formats(BodyReader& r, std::vector<std::int16_t>& out) {
    out.clear();
    std::uint16_t count = 0;
    if (!r.u16(count) || !r.count_fits(count, 2)) return;
    out.resize(count);
    for (auto& f : out) r.i16(f);
}

void write_formats(MessageWriter& w, const std::vector<std::int16_t>& formats) {
    w.u16(static_cast<std::uint16_t>(formats.size()));
    for (std::int16_t f : formats) w.i16(f);
}

void read_values(BodyReader& r, std::vector<Value>& out) {
    out.clear();
    std::uint16_t count = 0;
    if (!r.u16(count) || !r.count_fits(count, 4)) return;
    out.reserve(count);
    for (std::uint16_t i = 0; i < count; ++i) {
        std::int32_t length = 0;
        if (!r.i32(length)) return;
        if (length == -1) {
            out.emplace_back(std::nullopt);
            continue;
        }
        if (length < -1) {
            r.fail_with("invalid parameter length");
            return;
        }
        Bytes value;
        if (!r.bytes(static_cast<std::size_t>(length), value)) return;
        out.emplace_back(value);
    }
}

bool read_target(BodyReader& r, Target& out) {
    std::uint8_t kind = 0;
    if (!r.u8(kind)) return false;
    if (kind != 'S' && kind != 'P') return r.fail_with("invalid target: expected 'S' or 'P'");
    out = static_cast<Target>(kind);
    return true;
}

}  // namespace

Status decode(Bytes body, Parse& out) {
    BodyReader r(body);
    r.cstr(out.statement);
    r.cstr(out.query);
    out.param_types.clear();
    std::uint16_t count = 0;
    if (r.u16(count) && r.count_fits(count, 4)) {
        out.param_types.resize(count);
        for (auto& oid : out.param_types) r.u32(oid);
    }
    return r.finish();
}

void encode(const Parse& msg, MessageWriter& w) {
    w.begin(Parse::kType);
    w.cstr(msg.statement);
    w.cstr(msg.query);
    w.u16(static_cast<std::uint16_t>(msg.param_types.size()));
    for (std::uint32_t oid : msg.param_types) w.u32(oid);
    w.end();
}

FormatCode Bind::param_format(std::size_t i) const {
    if (param_formats.empty()) return FormatCode::Text;
    const std::int16_t code = param_formats.size() == 1 ? param_formats[0] : param_formats[i];
    return static_cast<FormatCode>(code);
}

Status decode(Bytes body, Bind& out) {
    BodyReader r(body);
    r.cstr(out.portal);
    r.cstr(out.statement);
    read_formats(r, out.param_formats);
    read_values(r, out.params);
    read_formats(r, out.result_formats);
    if (Status s = r.finish(); !s) return s;
    const std::size_t formats = out.param_formats.size();
    if (formats > 1 && formats != out.params.size()) {
        return sg::unexpected("bind message parameter format count does not match parameters");
    }
    for (std::int16_t f : out.param_formats) {
        if (f != 0 && f != 1) return sg::unexpected("unsupported format code");
    }
    return {};
}

void encode(const Bind& msg, MessageWriter& w) {
    w.begin(Bind::kType);
    w.cstr(msg.portal);
    w.cstr(msg.statement);
    write_formats(w, msg.param_formats);
    w.u16(static_cast<std::uint16_t>(msg.params.size()));
    for (const Value& v : msg.params) {
        if (!v) {
            w.i32(-1);
            continue;
        }
        w.i32(static_cast<std::int32_t>(v->size()));
        w.bytes(*v);
    }
    write_formats(w, msg.result_formats);
    w.end();
}

Status decode(Bytes body, Describe& out) {
    BodyReader r(body);
    read_target(r, out.target);
    r.cstr(out.name);
    return r.finish();
}

void encode(const Describe& msg, MessageWriter& w) {
    w.begin(Describe::kType);
    w.u8(static_cast<std::uint8_t>(msg.target));
    w.cstr(msg.name);
    w.end();
}

Status decode(Bytes body, Close& out) {
    BodyReader r(body);
    read_target(r, out.target);
    r.cstr(out.name);
    return r.finish();
}

void encode(const Close& msg, MessageWriter& w) {
    w.begin(Close::kType);
    w.u8(static_cast<std::uint8_t>(msg.target));
    w.cstr(msg.name);
    w.end();
}

Status decode(Bytes body, Execute& out) {
    BodyReader r(body);
    r.cstr(out.portal);
    r.i32(out.max_rows);
    return r.finish();
}

void encode(const Execute& msg, MessageWriter& w) {
    w.begin(Execute::kType);
    w.cstr(msg.portal);
    w.i32(msg.max_rows);
    w.end();
}

}  // namespace sg::wire
