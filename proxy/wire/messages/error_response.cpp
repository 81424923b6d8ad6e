#include "proxy/wire/messages/error_response.h"

#include "proxy/wire/reader.h"

namespace sg::wire {

namespace {

// Each field is a code byte and a string; a zero code byte ends the list.
Status decode_fields(Bytes body, NoticeFields& out) {
    BodyReader r(body);
    out.fields.clear();
    for (;;) {
        std::uint8_t code = 0;
        if (!r.u8(code) || code == 0) break;
        std::string_view value;
        if (!r.cstr(value)) break;
        out.fields.push_back({static_cast<char>(code), value});
    }
    return r.finish();
}

void encode_fields(char type, const NoticeFields& msg, MessageWriter& w) {
    w.begin(type);
    for (const auto& f : msg.fields) {
        w.u8(static_cast<std::uint8_t>(f.code));
        w.cstr(f.value);
    }
    w.u8(0);
    w.end();
}

void begin_with_required(char type, MessageWriter& w, Severity severity, std::string_view sqlstate,
                         std::string_view message) {
    w.begin(type);
    w.u8(field::kSeverity);
    w.cstr(to_string(severity));
    w.u8(field::kSeverityNonLocalized);
    w.cstr(to_string(severity));
    w.u8(field::kSqlState);
    w.cstr(sqlstate);
    w.u8(field::kMessage);
    w.cstr(message);
}

}  // namespace

std::string_view NoticeFields::get(char code) const {
    for (const auto& f : fields) {
        if (f.code == code) return f.value;
    }
    return {};
}

std::string_view NoticeFields::severity() const {
    const std::string_view v = get(field::kSeverityNonLocalized);
    return v.empty() ? get(field::kSeverity) : v;
}

Status decode(Bytes body, ErrorResponse& out) {
    return decode_fields(body, out);
}
Status decode(Bytes body, NoticeResponse& out) {
    return decode_fields(body, out);
}
void encode(const ErrorResponse& msg, MessageWriter& w) {
    encode_fields(msg.kType, msg, w);
}
void encode(const NoticeResponse& msg, MessageWriter& w) {
    encode_fields(msg.kType, msg, w);
}

std::string_view to_string(Severity s) {
    switch (s) {
        case Severity::Error:
            return "ERROR";
        case Severity::Fatal:
            return "FATAL";
        case Severity::Panic:
            return "PANIC";
        case Severity::Warning:
            return "WARNING";
        case Severity::Notice:
            return "NOTICE";
        case Severity::Debug:
            return "DEBUG";
        case Severity::Info:
            return "INFO";
        case Severity::Log:
            return "LOG";
    }
    return "ERROR";
}

ErrorBuilder::ErrorBuilder(Severity severity, std::string_view sqlstate, std::string message)
    : severity_(severity), sqlstate_(sqlstate), message_(std::move(message)) {}

ErrorBuilder& ErrorBuilder::field(char code, std::string value) {
    extra_.emplace_back(code, std::move(value));
    return *this;
}

void ErrorBuilder::encode_as(char type, MessageWriter& w) const {
    begin_with_required(type, w, severity_, sqlstate_, message_);
    for (const auto& [code, value] : extra_) {
        w.u8(static_cast<std::uint8_t>(code));
        w.cstr(value);
    }
    w.u8(0);
    w.end();
}

void encode_error(MessageWriter& w, Severity severity, std::string_view sqlstate,
                  std::string_view message) {
    begin_with_required(be::kErrorResponse, w, severity, sqlstate, message);
    w.u8(0);
    w.end();
}

}  // namespace sg::wire
