// Extended-protocol batches of LISTEN / UNLISTEN that the proxy answers itself in transaction
// pooling (protocol logic, no I/O; carried out by proxy/session_listen_batch.cpp).
//
// Drivers send LISTEN like any statement: asyncpg's add_listener prepares it under a name
// ([Parse "__asyncpg_stmt_1__", Describe statement, Flush]) and runs it in a second batch
// ([Bind, Execute, Sync]), reusing the prepared statement for the next add_listener of that
// channel; pgjdbc and psycopg send [Parse, Bind, Describe portal, Execute, Sync] with the
// unnamed statement. The LISTEN must never reach a pooled server connection (its
// notifications would go to whichever client takes that connection next), so every message
// of such a batch is answered here with what PostgreSQL sends for it:
//   Parse    -> (NOTICE 42622 when the channel name is truncated) ParseComplete
//   Bind     -> BindComplete
//   Describe -> ParameterDescription (no parameters; a statement only), NoData
//   Execute  -> CommandComplete "LISTEN" / "UNLISTEN" (or the LISTEN's error)
//   Close    -> CloseComplete
//   Sync     -> ReadyForQuery;  Flush -> nothing
//
// plan_listen_batch() accepts a batch only when every message can be answered so: each
// Parse is a LISTEN / UNLISTEN without declared parameter types; each Bind binds, without
// parameters, a LISTEN / UNLISTEN statement of this batch or one the client prepared before;
// each Describe names such a statement or a portal bound in this batch; each Execute runs a
// portal bound in this batch (once); every portal bound is executed (a portal left for a
// later batch would have to live on a server); a named statement is not parsed over an
// existing one (PostgreSQL's 42P05 comes from the shard path); the batch ends with its one
// Sync or Flush. Outside a transaction block the messages up to Sync are one implicit
// transaction: an Execute there must come in a batch ending with Sync (so that its LISTEN
// takes effect when that transaction commits, at the Sync, as in PostgreSQL). Anything else
// (a LISTEN pipelined with statements that run on a shard) is declined: the caller refuses
// it with 0A000 naming the construct.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "proxy/notify/listen_statement.h"

namespace sg::proxy::notify {

struct ListenBatchStep {
    enum Kind { Parse, Bind, DescribeStatement, DescribePortal, Execute, Close, Sync, Flush };
    Kind kind = Parse;
    std::string_view frame;  // the whole message (Parse: registered by the session)
    std::string_view body;   // after type and length (Close: answered by the session)
    ListenStatement st;      // Parse (its truncation notice) and Execute (what runs)
};

struct ListenBatchPlan {
    std::vector<ListenBatchStep> steps;  // one per message, in order
    size_t executes = 0;
    bool parses_listen = false;  // a LISTEN / UNLISTEN statement is prepared by the batch
};

// The text of the client's prepared statement `name` ("" the unnamed one), nullopt when the
// client has none by that name.
using StatementText = std::function<std::optional<std::string_view>(std::string_view name)>;

// `in_block`: a transaction block is open. `portals_on_server`: a server connection is
// attached (portals of an open transaction live there: a Close of a portal not bound in this
// batch is not answered here).
std::optional<ListenBatchPlan> plan_listen_batch(std::string_view batch,
                                                 const StatementText& statement, bool in_block,
                                                 bool portals_on_server);

}  // namespace sg::proxy::notify
