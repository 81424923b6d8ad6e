// Random and mutated bytes must never crash framing or decoding: every outcome is a value.
// Run under ASan/UBSan (SHARDGATE_SANITIZE=ON) this also proves no out-of-bounds read.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "proxy/wire/messages.h"

namespace sg::wire {
namespace {

// Decodes `body` as every message type; the results do not matter, only that nothing breaks.
void decode_as_everything(Bytes body) {
    Query q;
    Parse p;
    Bind b;
    Describe d;
    Close c;
    Execute e;
    Sync s;
    Flush f;
    Terminate t;
    CopyData cd;
    CopyDone cdone;
    CopyFail cf;
    PasswordMessage pm;
    SASLInitialResponse si;
    SASLResponse sr;
    Authentication a;
    ParameterStatus ps;
    BackendKeyData k;
    ReadyForQuery r;
    ErrorResponse er;
    NoticeResponse nr;
    RowDescription rd;
    DataRow dr;
    CommandComplete cc;
    ParameterDescription pd;
    CopyInResponse ci;
    NotificationResponse n;
    NegotiateProtocolVersion npv;
    (void)decode(body, q), (void)decode(body, p), (void)decode(body, b), (void)decode(body, d);
    (void)decode(body, c), (void)decode(body, e), (void)decode(body, s), (void)decode(body, f);
    (void)decode(body, t), (void)decode(body, cd), (void)decode(body, cdone);
    (void)decode(body, cf), (void)decode(body, pm), (void)decode(body, si);
    (void)decode(body, sr), (void)decode(body, a), (void)decode(body, ps), (void)decode(body, k);
    (void)decode(body, r), (void)decode(body, er), (void)decode(body, nr);
    (void)decode(body, rd), (void)decode(body, dr), (void)decode(body, cc);
    (void)decode(body, pd), (void)decode(body, ci), (void)decode(body, n);
    (void)decode(body, npv);
    for (std::size_t i = 0; i < b.params.size(); ++i) (void)b.param_format(i);
}

void frame_everything(Bytes stream) {
    Bytes rest = stream;
    while (true) {
        const auto status = parse_frame(rest, 1 << 16);
        const auto* frame = std::get_if<Frame>(&status);
        if (frame == nullptr) break;
        ASSERT_LE(frame->size, rest.size());
        decode_as_everything(frame->body);
        rest = rest.subspan(frame->size);
    }
    const auto startup = parse_startup_frame(stream);
    if (const auto* frame = std::get_if<StartupFrame>(&startup)) {
        ASSERT_LE(frame->size, stream.size());
        StartupMessage sm;
        CancelRequest cr;
        (void)decode(*frame, sm), (void)decode(*frame, cr);
    }
}

TEST(HostileInput, RandomBytesNeverCrash) {
    std::mt19937 rng(20240601);  // fixed: a failure must reproduce
    std::vector<std::uint8_t> buf;
    for (int i = 0; i < 5000; ++i) {
        buf.resize(rng() % 96);
        for (auto& byte : buf) byte = static_cast<std::uint8_t>(rng());
        decode_as_everything(buf);
        frame_everything(buf);
    }
}

TEST(HostileInput, MutatedValidMessagesNeverCrash) {
    std::string seed;
    MessageWriter w(seed);
    Bind bind;
    bind.portal = "p";
    bind.statement = "s";
    bind.param_formats = {1};
    bind.params = {as_bytes("abcd"), std::nullopt};
    encode(bind, w);
    encode(Parse{"s", "SELECT $1", {23}}, w);
    encode(RowDescription{{{"id", 1, 1, 23, 4, -1, 0}}}, w);
    encode_error(w, Severity::Error, "42601", "syntax");

    std::mt19937 rng(7);
    for (int i = 0; i < 5000; ++i) {
        std::string mutated = seed;
        for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
            mutated[rng() % mutated.size()] = static_cast<char>(rng());
        }
        frame_everything(as_bytes(mutated));
    }
}

}  // namespace
}  // namespace sg::wire
