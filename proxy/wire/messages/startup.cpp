#include "proxy/wire/messages/startup.h"

#include "proxy/wire/reader.h"

namespace sg::wire {

std::string_view StartupMessage::get(std::string_view name) const {
    for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
        if (it->name == name) return it->value;
    }
    return {};
}

bool StartupMessage::has(std::string_view name) const {
    for (const auto& p : parameters) {
        if (p.name == name) return true;
    }
    return false;
}

std::string_view StartupMessage::database() const {
    const std::string_view db = get("database");
    return db.empty() ? user() : db;
}

Status decode(const StartupFrame& frame, StartupMessage& out) {
    if (frame.kind != StartupKind::Startup) return sg::unexpected("not a startup message");
    out.protocol = frame.code;
    out.parameters.clear();
    BodyReader r(frame.body);
    // name\0value\0 ... \0: an empty name is the terminator and must be the last byte.
    for (;;) {
        std::string_view name;
        if (!r.cstr(name))
            return sg::unexpected("invalid startup packet layout: missing terminator");
        if (name.empty()) break;
        std::string_view value;
        if (!r.cstr(value)) return sg::unexpected("invalid startup packet layout: missing value");
        out.parameters.push_back({name, value});
    }
    return r.finish();
}

void encode(const StartupMessage& msg, MessageWriter& w) {
    w.begin_untyped();
    w.u32(msg.protocol);
    for (const auto& p : msg.parameters) {
        w.cstr(p.name);
        w.cstr(p.value);
    }
    w.u8(0);
    w.end();
}

Status decode(const StartupFrame& frame, CancelRequest& out) {
    if (frame.kind != StartupKind::CancelRequest) return sg::unexpected("not a cancel request");
    BodyReader r(frame.body);
    r.i32(out.process_id);
    r.i32(out.secret_key);
    return r.finish();
}

void encode(const CancelRequest& msg, MessageWriter& w) {
    w.begin_untyped();
    w.u32(kCancelRequestCode);
    w.i32(msg.process_id);
    w.i32(msg.secret_key);
    w.end();
}

void encode_ssl_request(MessageWriter& w) {
    w.begin_untyped();
    w.u32(kNegotiateSslCode);
    w.end();
}

void encode_gssenc_request(MessageWriter& w) {
    w.begin_untyped();
    w.u32(kNegotiateGssCode);
    w.end();
}

Status decode(Bytes body, NegotiateProtocolVersion& out) {
    BodyReader r(body);
    std::int32_t count = 0;
    r.i32(out.newest_minor);
    r.i32(count);
    out.unrecognized.clear();
    if (count < 0) return sg::unexpected("negative option count");
    if (!r.count_fits(static_cast<std::size_t>(count), 1)) return r.status();
    out.unrecognized.reserve(static_cast<std::size_t>(count));
    for (std::int32_t i = 0; i < count; ++i) {
        std::string_view option;
        if (!r.cstr(option)) break;
        out.unrecognized.push_back(option);
    }
    return r.finish();
}

void encode(const NegotiateProtocolVersion& msg, MessageWriter& w) {
    w.begin(NegotiateProtocolVersion::kType);
    w.i32(msg.newest_minor);
    w.i32(static_cast<std::int32_t>(msg.unrecognized.size()));
    for (std::string_view option : msg.unrecognized) w.cstr(option);
    w.end();
}

std::string unsupported_protocol_message(std::uint32_t code) {
    return "unsupported frontend protocol " + std::to_string(protocol_major(code)) + "." +
           std::to_string(protocol_minor(code)) + ": server supports 3.0 to 3.0";
}

}  // namespace sg::wire
