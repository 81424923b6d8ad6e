// Session-scoped server state a statement creates or uses (protocol logic, no I/O).
//
// In transaction pooling a client's next transaction may run on another server connection,
// and its current one serves other clients next: state that outlives a transaction on the
// server (a temporary table, a WITH HOLD cursor, a session-level advisory lock, an SQL
// PREPAREd statement) would be lost for its client and visible to others. Such statements are
// refused there (0A000, the message names the construct), except LISTEN / UNLISTEN, which the
// proxy carries itself there (proxy/notify, proxy/session_listen.cpp); README "What
// transaction pooling carries" lists what happens to each kind of state in each pool mode.
#pragma once

#include <string>
#include <string_view>

namespace sg::proxy {

struct SessionStateUse {
    enum Kind {
        None,
        TempTable,     // CREATE TEMP TABLE / VIEW / SEQUENCE (without ON COMMIT DROP)
        HoldCursor,    // DECLARE ... CURSOR WITH HOLD
        AdvisoryLock,  // pg_advisory_lock & co. (session level; the _xact_ forms are fine)
        SqlPrepare,    // PREPARE name AS ... / EXECUTE name
        Deallocate,    // DEALLOCATE [PREPARE] name | ALL (`name` says which; "" for ALL)
        Listen,        // LISTEN channel
        Unlisten,      // UNLISTEN channel | *
        CursorOp,      // FETCH / MOVE / CLOSE: uses a cursor where it was declared
        SetRole,       // SET [SESSION] ROLE / SET SESSION AUTHORIZATION (not SET LOCAL)
    } kind = None;
    std::string name;  // Deallocate: the statement name (lower-cased unless quoted), "" for ALL
};

// What `sql` (one statement's text) does with session-scoped state.
SessionStateUse session_state_use(std::string_view sql);

// The 0A000 message refusing `use` in transaction pooling; empty when it is allowed there.
std::string transaction_pooling_refusal(const SessionStateUse& use);

}  // namespace sg::proxy
