// The client's side of the protocol once logged in, as a machine without I/O.
//
// It frames what the client sent (wire::parse_frame: a frame's length is judged before any of
// it is buffered), holds extended-protocol messages until the Sync or Flush that lets the
// session route them, and says what the session must do next. The session's read loop
// (proxy/session_query.cpp) reads bytes, calls step() and carries the action out; it is the
// only part that awaits anything. Unit tests drive this machine with byte fixtures
// (tests/unit/proxy/core/client_machine_test.cpp), the fuzz target with random bytes.
//
// State (one variant): Ready (nothing held), Batching (extended messages held, not yet run),
// SkippingToSync (a batch failed: the protocol discards what follows up to the next Sync),
// Closed (Terminate or a protocol violation: nothing more is read).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace sg::proxy::core {

namespace client {
// Nothing whole is buffered: read more. `at_least`: the bytes the next frame needs in total
// (from the start of the input), once its header is in.
struct NeedMore {
    size_t at_least;
};
// An extended-protocol message (Parse, Bind, Describe, Execute, Close) was added to the held
// batch, or dropped while skipping to Sync. `first`: it is the first message of a request.
struct Held {
    char type;
    size_t size;
    bool first;
};
// Run the held batch: at the client's Sync (`sync`) or Flush (both appended to it), or before
// a Query or FunctionCall that follows it unsynced (nothing of that message consumed yet).
struct RunBatch {
    bool sync;
};
// A simple query: its whole frame, and its text without the terminator.
struct Query {
    std::string_view frame;
    std::string_view sql;
};
// Consecutive CopyData / CopyDone / CopyFail messages, to stream to the shard as they are.
struct Copy {
    std::string_view chunk;
};
// A FunctionCall message (libpq's PQfn), whole.
struct FunctionCall {
    std::string_view frame;
};
// The client said goodbye.
struct Terminate {};
// The client broke the protocol: answer FATAL with this and close.
struct Fatal {
    const char* sqlstate;
    std::string message;
};
}  // namespace client

using ClientAction =
    std::variant<client::NeedMore, client::Held, client::RunBatch, client::Query, client::Copy,
                 client::FunctionCall, client::Terminate, client::Fatal>;

// One step: the action, and the input bytes it used (the caller drops them from its buffer).
struct ClientStep {
    size_t consumed;
    ClientAction action;
};

// A batch handed to the session to run.
struct TakenBatch {
    std::string bytes;
    bool has_parse = false;  // it holds a Parse (column lists, lookups, LISTEN need a look)
};

// How a message type byte is named in errors: printable as 'X', anything else in hex (a NUL
// must never reach a wire string).
std::string describe_message_type(char type);

class ClientMachine {
public:
    // `max_message`: the largest length field accepted (RELOAD may change it between
    // requests); `admin`: the admin console's session, which speaks only the simple query
    // protocol.
    void configure(size_t max_message, bool admin) {
        max_message_ = max_message;
        admin_ = admin;
    }

    // The next action for the client's unconsumed bytes `input`.
    ClientStep step(std::string_view input);

    // Extended-protocol messages are held (a batch is waiting for its Sync or Flush).
    bool has_batch() const { return !batch_.empty(); }
    // Hands the held batch over and keeps `spare` (cleared) as the next batch's buffer, so
    // steady traffic reuses two allocations. The state leaves Batching (Skipping stays).
    TakenBatch take_batch(std::string spare);

    // A batch failed (or was refused): what the client sends up to its Sync is discarded.
    void skip_to_sync() {
        if (!std::holds_alternative<Closed>(state_)) state_ = SkippingToSync{};
    }
    // The Sync ending a failed batch was answered.
    void stop_skipping() {
        if (std::holds_alternative<SkippingToSync>(state_)) state_ = Ready{};
    }
    bool skipping() const { return std::holds_alternative<SkippingToSync>(state_); }
    // Nothing is held and nothing skipped: between requests.
    bool idle() const { return std::holds_alternative<Ready>(state_); }
    bool closed() const { return std::holds_alternative<Closed>(state_); }

private:
    struct Ready {};
    struct Batching {
        bool has_parse = false;
    };
    struct SkippingToSync {};
    struct Closed {};

    ClientStep close_with(size_t consumed, const char* sqlstate, std::string message);

    std::variant<Ready, Batching, SkippingToSync, Closed> state_;
    std::string batch_;
    size_t max_message_ = 1u << 30;
    bool admin_ = false;
};

}  // namespace sg::proxy::core
