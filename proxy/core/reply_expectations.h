// What a shard owes for the messages sent to it, and what to do with each reply it sends
// (sans-io: no sockets, no clocks; proxy/server_conn.cpp feeds it the shard's replies in order).
//
// PostgreSQL answers the messages of one connection strictly in order, so the replies the
// proxy must handle specially (a ParseComplete for a Parse it injected, the ReadyForQuery of a
// Sync it added, everything of a settings query it sent itself) are known by position: every
// message sent that gets such a reply records one expectation here, in the same call that
// appends the message (proxy/shard_request.h), and each reply consumes them from the front.
// After an ErrorResponse the shard skips everything up to the next Sync: so does this queue.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

namespace sg::proxy::core {

// One expected reply, in the order the shard will send it.
enum class Expect : uint8_t {
    ParseForward,     // client's Parse: its ParseComplete goes to the client
    ParseSwallow,     // injected Parse (a statement re-prepared): its ParseComplete is dropped
    BindSwallow,      // injected Bind: its BindComplete is dropped
    ParseSynthesize,  // client's Parse answered by the proxy (already prepared there): a
                      // ParseComplete goes to the client before the shard's next reply
    CloseForward,     // client's Close: its CloseComplete goes to the client
    Ready,            // client's Sync, Query or FunctionCall: its ReadyForQuery goes to the client
    SwallowToReady,   // a simple query the proxy sent itself: everything up to and including its
                      // ReadyForQuery is dropped (its errors recorded for the sender)
    SyncQuiet         // a Sync the proxy added to split a batch: its ReadyForQuery is dropped
};

// What the connection does with one reply.
struct Disposition {
    // ParseCompletes owed to the client ahead of this reply (ParseSynthesize expectations).
    uint8_t parse_completes = 0;
    // The reply answers a query the proxy sent itself (SwallowToReady).
    bool quiet = false;
    // It goes to the client (false: the proxy dropped it).
    bool forward = true;
    enum class Ready : uint8_t {
        None,        // not a ReadyForQuery
        Client,      // ends a client's request: relayed, one fewer outstanding
        QuietQuery,  // ends a quiet query
        QuietSync    // ends a piece of a split batch (the proxy's own Sync)
    } ready = Ready::None;
};

class ReplyExpectations {
public:
    // Records the next expected reply; true when it made the connection busy (the first
    // client-visible ReadyForQuery owed: the request's clock starts).
    bool push(Expect e);
    // Consumes the expectations one reply of message type `type` answers.
    Disposition on_reply(char type);
    // Client-visible ReadyForQuery messages still owed.
    int outstanding() const { return outstanding_; }
    bool empty() const { return queue_.empty(); }
    size_t size() const { return queue_.size(); }
    Expect front() const { return queue_.front(); }

private:
    bool front_is(Expect e) const { return !queue_.empty() && queue_.front() == e; }
    std::deque<Expect> queue_;
    int outstanding_ = 0;
};

// The expectation a client's message of type `type` records when it is forwarded to a shard
// (Parse, Close, Sync, Query, FunctionCall), or nullopt: the replies of the others (Bind,
// Describe, Execute, Flush, COPY data) go to the client as they come and need no bookkeeping.
std::optional<Expect> forwarded_expectation(char type);

}  // namespace sg::proxy::core
