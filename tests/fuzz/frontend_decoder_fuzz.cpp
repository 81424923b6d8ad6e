// libFuzzer target for everything a client's bytes reach before and after login: startup
// framing and packets, normal framing, every frontend message decoder, and the server side of
// authentication (SCRAM and MD5), which parses attacker-controlled text before any password is
// known to be right. The property checked is the wire layer's invariant: any input yields a
// value (frame, need-more, malformed, error), never a crash or an out-of-bounds access.
#include <cstddef>
#include <cstdint>
#include <string>

#include "proxy/auth/credential.h"
#include "proxy/auth/scram_messages.h"
#include "proxy/auth/server_auth.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages.h"

namespace {

using namespace sg::wire;

template <typename Msg>
void decode_as(Bytes body) {
    Msg msg;
    (void)decode(body, msg);
}

// The decoder a session would pick for a frontend type byte, plus the 'p' family whose meaning
// depends on the authentication state.
void decode_frontend(const Frame& frame) {
    switch (frame.type) {
        case fe::kQuery:
            decode_as<Query>(frame.body);
            break;
        case fe::kParse:
            decode_as<Parse>(frame.body);
            break;
        case fe::kBind: {
            Bind bind;
            if (decode(frame.body, bind).ok()) {
                for (std::size_t i = 0; i < bind.params.size(); ++i) (void)bind.param_format(i);
            }
            break;
        }
        case fe::kDescribe:
            decode_as<Describe>(frame.body);
            break;
        case fe::kClose:
            decode_as<Close>(frame.body);
            break;
        case fe::kExecute:
            decode_as<Execute>(frame.body);
            break;
        case fe::kSync:
            decode_as<Sync>(frame.body);
            break;
        case fe::kFlush:
            decode_as<Flush>(frame.body);
            break;
        case fe::kTerminate:
            decode_as<Terminate>(frame.body);
            break;
        case fe::kCopyData:
            decode_as<CopyData>(frame.body);
            break;
        case fe::kCopyDone:
            decode_as<CopyDone>(frame.body);
            break;
        case fe::kCopyFail:
            decode_as<CopyFail>(frame.body);
            break;
        case fe::kPasswordMessage:
            decode_as<PasswordMessage>(frame.body);
            decode_as<SASLInitialResponse>(frame.body);
            decode_as<SASLResponse>(frame.body);
            break;
        default:
            (void)frontend_message_name(frame.type);
            break;
    }
}

// Drives a SCRAM login with the fuzzed frames as the client's answers.
void authenticate(sg::AuthMethod method, Bytes data) {
    static const sg::auth::Credential credential = [] {
        sg::auth::Credential c;
        (void)sg::auth::parse_credential(
            "alice",
            "SCRAM-SHA-256$4096:/WzzZZWRYFe+oqPkGQXobQ==$ztURsvJp8s/rSMLdFnI8P/EhxcYcAYaJc0yBRFGMW"
            "Ss=:NtjKL7hnr0Pi6zSzmL6vVpyIOddKScnO04Ryl041y7o=",
            c);
        return c;
    }();
    std::string out;
    MessageWriter w(out);
    sg::auth::ServerAuth server(method, "alice", &credential);
    (void)server.start(w);
    while (true) {
        const auto status = parse_frame(data, 1 << 16);
        const auto* frame = std::get_if<Frame>(&status);
        if (frame == nullptr) break;
        const auto step = server.on_message(frame->body, w);
        if (step.failed()) server.encode_failure(step, w);
        if (step.status != sg::auth::AuthStatus::Continue) break;
        data = data.subspan(frame->size);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Bytes input(data, size);

    const auto startup = parse_startup_frame(input);
    if (const auto* frame = std::get_if<StartupFrame>(&startup)) {
        StartupMessage msg;
        if (decode(*frame, msg).ok()) {
            (void)msg.user(), (void)msg.database(), (void)msg.application_name();
        }
        CancelRequest cancel;
        (void)decode(*frame, cancel);
        if (frame->kind == StartupKind::UnsupportedProtocol) {
            (void)unsupported_protocol_message(frame->code);
        }
    }

    Bytes rest = input;
    while (true) {
        const auto status = parse_frame(rest, 1 << 20);
        const auto* frame = std::get_if<Frame>(&status);
        if (frame == nullptr) break;
        decode_frontend(*frame);
        rest = rest.subspan(frame->size);
    }

    // SCRAM text parsers on the raw input, then whole logins driven by it.
    const std::string_view text = as_chars(input);
    sg::auth::ClientFirstMessage first;
    sg::auth::ClientFinalMessage final_msg;
    (void)sg::auth::parse_client_first(text, first);
    (void)sg::auth::parse_client_final(text, final_msg);
    authenticate(sg::AuthMethod::ScramSha256, input);
    return 0;
}
