// The transaction the proxy holds back before it reaches a shard, as a machine without I/O.
//
// A client's BEGIN is answered by the proxy and not sent: the transaction's first statement
// decides which shard runs it (a BEGIN sent at once would settle it on the default shard).
// SET LOCAL statements that come before that statement are checked and held with it. The
// held text is sent quietly in front of the first statement on the shard that statement
// picks (Session::add_prelude); a shard joining a multi-shard transaction gets its BEGIN and
// savepoints the same way.
//
// State (one variant): None (no transaction held back), Open (held: the client sees status
// 'T'), Failed (a statement was refused inside it before any shard ran anything: as in
// PostgreSQL the transaction is aborted, status 'E', and only its end is accepted).
// Before, this was a string and a boolean that could disagree (a failed flag with nothing
// held); now a failure without a held transaction cannot be represented.
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace sg::proxy::core {

class HeldBegin {
public:
    // A transaction is held back (open or failed).
    bool held() const { return !std::holds_alternative<None>(state_); }
    // It failed before reaching a shard: only COMMIT / ROLLBACK (which roll it back) answer.
    bool failed() const { return std::holds_alternative<Failed>(state_); }
    // The transaction status the client sees while no shard is attached.
    char status() const { return failed() ? 'E' : held() ? 'T' : 'I'; }
    // The text to send before the first statement ("" when nothing is held).
    const std::string& text() const;

    // The client's BEGIN: held unless one is held already (a second BEGIN only warns in
    // PostgreSQL, and the first one's options stay).
    void begin(std::string_view sql);
    // The BEGIN (and savepoints) a shard joining a running transaction needs before its first
    // statement; replaces whatever was held.
    void prelude(std::string prelude_sql);
    // A statement held with the BEGIN (SET LOCAL), after it in one text. Nothing held: ignored
    // (callers hold only inside a held transaction).
    void append(std::string_view sql);
    // A statement was refused inside the held transaction. Nothing held: ignored (outside a
    // transaction an error aborts nothing).
    void fail();
    // Sent to a shard: the text, and nothing is held any more.
    std::string take();
    // Ended (COMMIT / ROLLBACK answered by the proxy, or the transaction ended elsewhere).
    void clear() { state_ = None{}; }

private:
    struct None {};
    struct Open {
        std::string sql;
    };
    struct Failed {
        std::string sql;
    };
    std::variant<None, Open, Failed> state_;
};

}  // namespace sg::proxy::core
