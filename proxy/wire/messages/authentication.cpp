#include "proxy/wire/messages/authentication.h"

#include <algorithm>
#include <type_traits>

#include "proxy/wire/reader.h"

namespace sg::wire {

namespace {

void begin_request(MessageWriter& w, AuthRequest code) {
    w.begin(be::kAuthenticationRequest);
    w.i32(static_cast<std::int32_t>(code));
}

void decode_mechanisms(BodyReader& r, AuthenticationSASL& out) {
    // A list of names, each NUL-terminated, closed by an empty name.
    for (;;) {
        std::string_view name;
        if (!r.cstr(name) || name.empty()) return;
        out.mechanisms.push_back(name);
    }
}

}  // namespace

Status decode(Bytes body, Authentication& out) {
    BodyReader r(body);
    std::int32_t code = 0;
    if (!r.i32(code)) return r.status();
    switch (static_cast<AuthRequest>(code)) {
        case AuthRequest::Ok:
            out = AuthenticationOk{};
            break;
        case AuthRequest::CleartextPassword:
            out = AuthenticationCleartextPassword{};
            break;
        case AuthRequest::MD5Password: {
            AuthenticationMD5Password md5;
            Bytes salt;
            if (r.bytes(md5.salt.size(), salt))
                std::copy(salt.begin(), salt.end(), md5.salt.begin());
            out = md5;
            break;
        }
        case AuthRequest::SASL: {
            AuthenticationSASL sasl;
            decode_mechanisms(r, sasl);
            out = std::move(sasl);
            break;
        }
        case AuthRequest::SASLContinue:
            out = AuthenticationSASLContinue{r.take_rest()};
            break;
        case AuthRequest::SASLFinal:
            out = AuthenticationSASLFinal{r.take_rest()};
            break;
        case AuthRequest::KerberosV5:
        case AuthRequest::GSS:
        case AuthRequest::GSSContinue:
        case AuthRequest::SSPI:
            // Their payloads are opaque to us; the request itself is what matters.
            r.take_rest();
            out = AuthenticationUnsupported{code};
            break;
        default:
            return sg::unexpected("unknown authentication request code");
    }
    return r.finish();
}

void encode(const AuthenticationOk& /*msg*/, MessageWriter& w) {
    begin_request(w, AuthRequest::Ok);
    w.end();
}

void encode(const AuthenticationCleartextPassword& /*msg*/, MessageWriter& w) {
    begin_request(w, AuthRequest::CleartextPassword);
    w.end();
}

void encode(const AuthenticationMD5Password& msg, MessageWriter& w) {
    begin_request(w, AuthRequest::MD5Password);
    w.bytes(Bytes(msg.salt));
    w.end();
}

void encode(const AuthenticationSASL& msg, MessageWriter& w) {
    begin_request(w, AuthRequest::SASL);
    for (std::string_view m : msg.mechanisms) w.cstr(m);
    w.u8(0);
    w.end();
}

void encode(const AuthenticationSASLContinue& msg, MessageWriter& w) {
    begin_request(w, AuthRequest::SASLContinue);
    w.bytes(msg.data);
    w.end();
}

void encode(const AuthenticationSASLFinal& msg, MessageWriter& w) {
    begin_request(w, AuthRequest::SASLFinal);
    w.bytes(msg.data);
    w.end();
}

void encode(const Authentication& msg, MessageWriter& w) {
    std::visit(
        [&w](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, AuthenticationUnsupported>) {
                begin_request(w, static_cast<AuthRequest>(m.code));
                w.end();
            } else {
                encode(m, w);
            }
        },
        msg);
}

Status decode(Bytes body, PasswordMessage& out) {
    BodyReader r(body);
    r.cstr(out.password);
    return r.finish();
}

void encode(const PasswordMessage& msg, MessageWriter& w) {
    w.begin(PasswordMessage::kType);
    w.cstr(msg.password);
    w.end();
}

Status decode(Bytes body, SASLInitialResponse& out) {
    BodyReader r(body);
    std::int32_t length = 0;
    r.cstr(out.mechanism);
    r.i32(length);
    out.data.reset();
    if (length < -1) return sg::unexpected("invalid SASL initial response length");
    if (length >= 0) {
        Bytes data;
        if (r.bytes(static_cast<std::size_t>(length), data)) out.data = data;
    }
    return r.finish();
}

void encode(const SASLInitialResponse& msg, MessageWriter& w) {
    w.begin(SASLInitialResponse::kType);
    w.cstr(msg.mechanism);
    if (msg.data) {
        w.i32(static_cast<std::int32_t>(msg.data->size()));
        w.bytes(*msg.data);
    } else {
        w.i32(-1);
    }
    w.end();
}

Status decode(Bytes body, SASLResponse& out) {
    out.data = body;
    return {};
}

void encode(const SASLResponse& msg, MessageWriter& w) {
    w.begin(SASLResponse::kType);
    w.bytes(msg.data);
    w.end();
}

}  // namespace sg::wire
