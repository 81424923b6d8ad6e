#include "proxy/wire/messages/session_status.h"

#include "proxy/wire/reader.h"

namespace sg::wire {

Status decode(Bytes body, ParameterStatus& out) {
    BodyReader r(body);
    r.cstr(out.name);
    r.cstr(out.value);
    return r.finish();
}

void encode(const ParameterStatus& msg, MessageWriter& w) {
    w.begin(ParameterStatus::kType);
    w.cstr(msg.name);
    w.cstr(msg.value);
    w.end();
}

Status decode(Bytes body, BackendKeyData& out) {
    BodyReader r(body);
    r.i32(out.process_id);
    r.i32(out.secret_key);
    return r.finish();
}

void encode(const BackendKeyData& msg, MessageWriter& w) {
    w.begin(BackendKeyData::kType);
    w.i32(msg.process_id);
    w.i32(msg.secret_key);
    w.end();
}

Status decode(Bytes body, ReadyForQuery& out) {
    BodyReader r(body);
    std::uint8_t status = 0;
    if (r.u8(status) && status != 'I' && status != 'T' && status != 'E') {
        return sg::unexpected("invalid transaction status");
    }
    out.status = static_cast<TransactionStatus>(status);
    return r.finish();
}

void encode(const ReadyForQuery& msg, MessageWriter& w) {
    w.begin(ReadyForQuery::kType);
    w.u8(static_cast<std::uint8_t>(msg.status));
    w.end();
}

void append_ready_for_query(std::string& out, char status) {
    MessageWriter w(out);
    w.begin(ReadyForQuery::kType);
    w.u8(static_cast<std::uint8_t>(status));
    w.end();
}

Status decode(Bytes body, NotificationResponse& out) {
    BodyReader r(body);
    r.i32(out.process_id);
    r.cstr(out.channel);
    r.cstr(out.payload);
    return r.finish();
}

void encode(const NotificationResponse& msg, MessageWriter& w) {
    w.begin(NotificationResponse::kType);
    w.i32(msg.process_id);
    w.cstr(msg.channel);
    w.cstr(msg.payload);
    w.end();
}

}  // namespace sg::wire
