// The only way to write a request for a shard: each call appends one message to the request's
// bytes and records, in the same call, the reply the shard owes for it (proxy/core/
// reply_expectations.h), so what is sent and what the connection's reader expects cannot
// drift apart. ServerConn::expect is private to this class.
//
// The bytes are the caller's buffer: a request is built, then written with ServerConn::write.
// Messages whose replies need no bookkeeping (a client's Bind, Describe, Execute, Flush, COPY
// data) may be appended through forward() or, when an encoder writes them in place (a Bind
// renamed for the server), through untracked().
#pragma once

#include <string>
#include <string_view>

#include "proxy/core/reply_expectations.h"
#include "proxy/server_conn.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/simple_query.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

class ShardRequest {
public:
    ShardRequest(std::string& out, ServerConn& s) : out_(out), s_(s) {}
    ShardRequest(const ShardRequest&) = delete;
    ShardRequest& operator=(const ShardRequest&) = delete;

    // One message of the client's (or the proxy's copy of it, renamed for the server): its
    // reply goes to the client. The expectation comes from the type byte.
    void forward(std::string_view frame) {
        out_.append(frame);
        if (auto e = core::forwarded_expectation(frame.empty() ? '\0' : frame[0])) s_.expect(*e);
    }
    // A client's message the caller writes itself, as is, after the bytes built here (a large
    // Query is not copied): only its expectation is recorded.
    void forward_unbuffered(std::string_view frame) {
        if (auto e = core::forwarded_expectation(frame.empty() ? '\0' : frame[0])) s_.expect(*e);
    }
    // A message encoded for the client's request (a Parse renamed, a Describe, an Execute):
    // its reply goes to the client.
    template <class Msg>
    void forward_message(const Msg& m) {
        wire::MessageWriter w(out_);
        wire::encode(m, w);
        if (auto e = core::forwarded_expectation(Msg::kType)) s_.expect(*e);
    }
    // Several whole messages of the client's (a batch, or frames built once for several legs).
    void forward_all(std::string_view frames) {
        wire::FrameCursor c(frames);
        while (auto f = c.next()) forward(f->whole);
    }
    // A simple query on the client's behalf (a fan-out leg): its replies are collected.
    void query(std::string_view sql) {
        wire::MessageWriter w(out_);
        wire::encode(wire::Query{sql}, w);
        s_.expect(core::Expect::Ready);
    }
    // A Sync the proxy writes for the client's request (the end of a leg it built): its
    // ReadyForQuery ends the request.
    void sync() {
        wire::MessageWriter(out_).empty_message(wire::fe::kSync);
        s_.expect(core::Expect::Ready);
    }
    // A Sync the proxy adds to split a batch into pieces: its ReadyForQuery is not relayed.
    void quiet_sync() {
        wire::MessageWriter(out_).empty_message(wire::fe::kSync);
        s_.expect(core::Expect::SyncQuiet);
    }
    // A statement the proxy prepares again on this server (the client prepared it elsewhere):
    // its ParseComplete is dropped.
    void inject_parse(std::string_view parse_frame) {
        out_.append(parse_frame);
        s_.expect(core::Expect::ParseSwallow);
    }
    void inject_parse(const wire::Parse& p) {
        wire::MessageWriter w(out_);
        wire::encode(p, w);
        s_.expect(core::Expect::ParseSwallow);
    }
    // A Bind the proxy adds (a prepared lookup): its BindComplete is dropped.
    void inject_bind(const wire::Bind& b) {
        wire::MessageWriter w(out_);
        wire::encode(b, w);
        s_.expect(core::Expect::BindSwallow);
    }
    // A client's Parse the server needs no more (the statement is prepared there): nothing is
    // sent, and the proxy answers its ParseComplete in its place in the reply stream.
    void answered_parse() { s_.expect(core::Expect::ParseSynthesize); }
    // A simple query the proxy sends for itself (settings, a held BEGIN): none of its replies
    // reach the client; its errors are recorded (ServerConn::quiet_failures_since). False
    // when `sql` is empty (nothing appended).
    bool quiet_query(std::string_view sql) {
        if (sql.empty()) return false;
        wire::MessageWriter w(out_);
        wire::encode(wire::Query{sql}, w);
        s_.expect(core::Expect::SwallowToReady);
        ++s_.quiet_sent_;  // numbered in the order sent (ServerConn::quiet_sent)
        return true;
    }
    // Where a caller's encoder appends a message with no tracked reply (see the file comment).
    std::string& untracked() { return out_; }
    ServerConn& server() { return s_; }

private:
    std::string& out_;
    ServerConn& s_;
};

}  // namespace sg::proxy
