// libFuzzer target for the session core (proxy/core): the startup machine (when the first
// byte's top bit says so) and then the client machine fed arbitrary client bytes in arbitrary
// read-sized pieces, its batches turned into the replies a shard owes, and
// arbitrary shard replies walked through those expectations. Properties checked, beyond "no
// crash, no out-of-bounds access":
//   - a step never consumes more than it was given, and NeedMore consumes nothing;
//   - a Query's text lies inside its frame; a Copy chunk and every taken batch are whole frames;
//   - a batch handed over holds only extended-protocol messages, ending (if synced) in a Sync;
//   - after Terminate or a protocol violation the machine stays closed;
//   - the shard's replies never make the outstanding count negative, and after the last
//     ReadyForQuery nothing is expected.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/core/client_machine.h"
#include "proxy/core/reply_expectations.h"
#include "proxy/core/startup_machine.h"
#include "proxy/wire/frame_cursor.h"

namespace {

using namespace sg::proxy::core;

[[noreturn]] void violated(const char* what) {
    __builtin_trap();  // libFuzzer reports the input; `what` is visible in the debugger
    (void)what;
}
#define CHECK(cond)                   \
    do {                              \
        if (!(cond)) violated(#cond); \
    } while (0)

bool whole_frames(std::string_view bytes) {
    sg::wire::FrameCursor c(bytes);
    while (c.next()) {
    }
    return c.at_end();
}

void check_batch(const TakenBatch& b, bool sync, ReplyExpectations& ex) {
    CHECK(whole_frames(b.bytes));
    sg::wire::FrameCursor c(b.bytes);
    char last = 0;
    bool saw_parse = false;
    while (auto f = c.next()) {
        CHECK(f->type == 'P' || f->type == 'B' || f->type == 'D' || f->type == 'E' ||
              f->type == 'C' || f->type == 'S' || f->type == 'H');
        saw_parse = saw_parse || f->type == 'P';
        last = f->type;
        if (auto e = forwarded_expectation(f->type)) ex.push(*e);
    }
    if (b.has_parse) CHECK(saw_parse);
    if (sync) CHECK(last == 'S');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    // The first byte picks the read size and the admin flag; the rest splits in two: what the
    // client sends, and what the shard answers.
    const size_t chunk = 1 + (data[0] & 0x3f);
    const bool admin = data[0] & 0x40;
    const size_t split = size > 2 ? 1 + data[1] % (size - 1) : 1;
    std::string_view client(reinterpret_cast<const char*>(data) + 2, split > 2 ? split - 2 : 0);
    std::string_view server(reinterpret_cast<const char*>(data) + split, size - split);

    // The startup phase first (top bit of the first byte): packets until a login ends it.
    if (data[0] & 0x80) {
        StartupMachine sm(data[1] & 1);
        std::string pending;
        size_t used = 0;
        bool logged_in = false;
        while (!sm.done()) {
            StartupStep st = sm.step(pending);
            CHECK(st.consumed <= pending.size());
            if (std::holds_alternative<startup::NeedMore>(st.action)) {
                CHECK(st.consumed == 0);
                if (used == client.size()) return 0;
                const size_t n = std::min(chunk, client.size() - used);
                pending.append(client.substr(used, n));
                used += n;
                continue;
            }
            if (std::holds_alternative<startup::StartTls>(st.action)) {
                CHECK(st.consumed == pending.size());  // nothing may hide behind SSLRequest
                sm.tls_established();
            }
            if (const auto* login = std::get_if<startup::Login>(&st.action)) {
                CHECK(!login->message.user().empty());
                logged_in = true;
            }
            pending.erase(0, st.consumed);
        }
        if (!logged_in) return 0;
        client = client.substr(used - pending.size());  // what followed the StartupMessage
    }

    ClientMachine m;
    m.configure(1 << 16, admin);
    ReplyExpectations ex;
    std::string buffer;
    size_t fed = 0;
    int steps = 0;
    bool closed = false;
    while (!closed && steps < 200000) {
        ClientStep s = m.step(buffer);
        ++steps;
        CHECK(s.consumed <= buffer.size());
        if (std::holds_alternative<client::NeedMore>(s.action)) {
            CHECK(s.consumed == 0);
            if (fed == client.size()) break;
            const size_t n = std::min(chunk, client.size() - fed);
            buffer.append(client.substr(fed, n));
            fed += n;
            continue;
        }
        const std::string_view input = buffer;
        if (const auto* q = std::get_if<client::Query>(&s.action)) {
            CHECK(q->frame.data() == input.data() && q->frame.size() == s.consumed);
            CHECK(q->sql.data() >= q->frame.data() &&
                  q->sql.data() + q->sql.size() < q->frame.data() + q->frame.size());
            ex.push(Expect::Ready);
        } else if (const auto* c = std::get_if<client::Copy>(&s.action)) {
            CHECK(c->chunk.size() == s.consumed && whole_frames(c->chunk));
        } else if (const auto* r = std::get_if<client::RunBatch>(&s.action)) {
            TakenBatch b = m.take_batch({});
            check_batch(b, r->sync, ex);
            if (m.skipping() && r->sync) m.stop_skipping();
            // An error in a batch: the session skips to Sync (picked by the batch's size).
            if (!b.bytes.empty() && b.bytes.size() % 7 == 0) m.skip_to_sync();
        } else if (const auto* h = std::get_if<client::Held>(&s.action)) {
            CHECK(h->size == s.consumed);
        } else if (std::holds_alternative<client::Terminate>(s.action) ||
                   std::holds_alternative<client::Fatal>(s.action)) {
            CHECK(m.closed());
            closed = true;
        }
        buffer.erase(0, s.consumed);
    }
    if (closed) CHECK(std::holds_alternative<client::Terminate>(m.step(buffer).action));

    // The shard's replies, framed as the server connection frames them.
    sg::wire::FrameCursor replies(server);
    int client_readies = 0;
    const int owed = ex.outstanding();
    while (auto f = replies.next()) {
        const int before = ex.outstanding();
        Disposition d = ex.on_reply(f->type);
        CHECK(ex.outstanding() >= 0);
        if (d.ready == Disposition::Ready::Client) {
            ++client_readies;
            CHECK(ex.outstanding() == (before > 0 ? before - 1 : 0));
        } else {
            CHECK(ex.outstanding() == before);
        }
        if (d.quiet) CHECK(!d.forward);
    }
    if (client_readies >= owed) CHECK(ex.outstanding() == 0);
    return 0;
}
