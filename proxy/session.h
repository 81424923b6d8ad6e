// A client session: a coroutine that owns the client's socket from startup to Terminate.
//
// Life cycle (one transition function checks every move):
//   Startup -> Authenticating -> Ready <-> Busy -> Closed
// In transaction pooling a server connection is attached when a request needs one and given
// back at the ReadyForQuery that ends the transaction; in session pooling it stays attached.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/config.h"
#include "proxy/batch_plan.h"
#include "proxy/client_statement.h"
#include "proxy/core/client_machine.h"
#include "proxy/core/held_begin.h"
#include "proxy/cursor_places.h"
#include "proxy/fanout_held.h"
#include "proxy/fanout_legs.h"
#include "proxy/inflight_request.h"
#include "proxy/large_statement.h"
#include "proxy/lost_read.h"
#include "proxy/merge_combine.h"
#include "proxy/net.h"
#include "proxy/pool.h"
#include "proxy/prepared_lookups.h"
#include "proxy/server_conn.h"
#include "proxy/session_state.h"
#include "proxy/settings_tracker.h"
#include "proxy/stats/shard_figures.h"
#include "proxy/txn/savepoints.h"
#include "proxy/wire/messages/extended_query.h"
#include "router/analyzer.h"
#include "router/literals.h"
#include "router/router.h"

namespace sg::proxy {

class Proxy;
class Pool;
class CopyFanout;
namespace txn {
struct HeldTransaction;
}
namespace notify {
class Inbox;
struct ListenStatement;
}  // namespace notify

enum class SessionState { Startup, Authenticating, Ready, Busy, Closed };
const char* to_string(SessionState s);

class Session : public ServerSink, public std::enable_shared_from_this<Session> {
public:
    Session(Proxy& proxy, net::tcp::socket sock);
    ~Session() override;

    awaitable<void> run();

    // For the admin console and cancel requests.
    SessionState state() const { return state_; }
    const std::string& user() const { return user_name_; }
    const std::string& database() const { return database_; }
    std::string peer() const { return addr_; }  // host:port
    int32_t pid() const { return pid_; }
    int32_t secret() const { return secret_; }
    const ServerConn* server() const { return server_.get(); }
    net::Clock::time_point connected_at() const { return connected_at_; }
    net::Clock::time_point last_activity() const { return last_activity_; }
    const std::map<std::string, std::string>& startup_parameters() const { return startup_params_; }
    // Whether this client's open transaction (or running statement) touched a bucket that is
    // now paused by the rebalancer.
    bool touches_paused_bucket() const;
    // The pause holding this client now, if one is (proxy/session_pause.cpp): SHOW CLIENTS
    // shows it as state "paused", SHOW POOLS counts it in cl_waiting.
    struct Held {
        net::Clock::time_point since;
        std::chrono::system_clock::time_point since_wall;
        uint64_t pause_id = 0;
        int shard = -1;  // the pool it counts in (its route's first shard); -1: none yet
    };
    const std::optional<Held>& paused_hold() const { return paused_hold_; }
    const UserConfig* user_config() const { return user_; }
    // Asks the shard running this client's request to cancel it.
    void cancel_running();
    // This client's open transaction when it spans shards (session_deadlock.cpp): since when it
    // does, and every server connection it holds (attached, parked, a running fan-out's legs).
    // For the detector of deadlocks across shards (txn/deadlock_detector.h).
    struct SpanningTransaction {
        net::Clock::time_point since;
        std::vector<std::shared_ptr<ServerConn>> conns;
    };
    std::optional<SpanningTransaction> spanning_transaction() const;
    // This transaction was chosen as a deadlock's victim: its parked participants fail too, so
    // that they release their locks now (session_deadlock.cpp). Returns how many.
    int abort_parked_participants();
    // While a multi-shard statement runs, the session's coroutine waits for the shards and reads
    // nothing from its client: ClientWatch (session_client_watch.cpp) watches the client's socket
    // meanwhile and cancels every leg when the client disconnects.
    class ClientWatch {
    public:
        explicit ClientWatch(Session& s);
        ~ClientWatch();
        ClientWatch(const ClientWatch&) = delete;
        ClientWatch& operator=(const ClientWatch&) = delete;

    private:
        Session& s_;
        bool owner_ = false;  // false when another watch was in force already (nested)
    };
    // Closes the client connection (SHUTDOWN, idle timeout).
    void terminate(const std::string& why);
    // The same after a best-effort FATAL ErrorResponse (session_goodbye.cpp).
    void terminate_with(std::string_view sqlstate, const std::string& message,
                        const std::string& why);

    // ServerSink
    awaitable<void> relay(ServerConn& s, const std::vector<net::asio::const_buffer>& frames,
                          size_t done = 0) override;
    size_t relay_now(ServerConn& s, const std::vector<net::asio::const_buffer>& frames) override;
    void on_ready(ServerConn& s, char status) override;
    void on_error(ServerConn& s, std::string_view sqlstate) override;
    void on_quiet_ready(ServerConn& s, char status) override;
    void on_quiet_done(ServerConn& s) override;
    void on_lost(ServerConn& s, const std::string& why) override;

    // Writes to the client, serialized with relays from servers.
    awaitable<bool> send(std::string_view bytes);

private:
    void transition(SessionState to);
    awaitable<bool> startup();
    awaitable<bool> authenticate(const UserConfig& user);
    awaitable<bool> read_more();
    // Serves what the client sends; true when everything buffered is handled and the client
    // has sent nothing more (the caller waits, then calls again), false when the session ends.
    awaitable<bool> serve_loop();
    // Waits for the client to send something (at once when something is buffered or readable);
    // false when the session is closing.
    awaitable<bool> wait_for_client();
    awaitable<void> handle_query(std::string_view frame, std::string_view sql);
    // INSERT ... VALUES or COPY ... FROM into a sharded table without a column list: writes the
    // table's columns into the text and handles that instead.
    awaitable<void> run_with_columns(const router::Analysis& a, std::string_view sql);
    // The columns such a statement lists implicitly (read from the default shard's catalog):
    // for INSERT the table's first a.values_per_row columns (cached), for COPY every stored one.
    awaitable<router::Expected<std::vector<std::string>>> missing_columns(
        const router::Analysis& a);
    // The same for the extended protocol: Parse messages of such INSERTs in `batch` get the
    // column list written into their query.
    awaitable<void> add_column_lists(std::string& batch);
    bool needs_column_lists(std::string_view batch);
    // A fan-out with an Analysis::merge plan: the shards' rows (from each running
    // merge->shard_sql) combined into the client's answer by a query PostgreSQL runs on the
    // default shard: aggregates re-aggregated, or the shards' own rows ordered, made distinct
    // and cut to LIMIT/OFFSET.
    // description_shard: the shard whose RowDescription the reply carries (its table OIDs).
    awaitable<std::string> merge_rows(const router::Analysis& a, const std::string& reply,
                                      uint16_t description_shard);
    router::RouterContext merging_context() const;
    awaitable<void> flush_batch(bool sync);
    awaitable<void> fatal(std::string_view sqlstate, const std::string& message);
    // Returns true when an abort was sent to the shard (and taken: its transaction is failed).
    awaitable<bool> abort_transaction_for_refusal(std::string_view sqlstate,
                                                  const std::string& message);
    awaitable<void> error_and_ready(std::string_view sqlstate, const std::string& message,
                                    std::string hint = {});
    // Gets a server on `shard` attached (waiting for the current one to be given back first
    // when it is on another shard). Returns false after reporting the error to the client.
    awaitable<bool> attach_server(int shard, bool report_with_ready);
    void release_server();
    std::string settings_sync_query(ServerConn& s);
    // That and the held-back BEGIN, as the quiet Query that starts a request to `s` (see
    // ShardRequest::quiet_query); false when there is nothing to send.
    bool add_prelude(std::string& out, ServerConn& s);
    // Brings the attached server's settings in line with the client's before a request (see
    // session_sync.cpp): false after the client was told why not (the request must not run).
    awaitable<bool> sync_settings(bool report_with_ready);
    // A server connection could not be made ready for the client's request (settings re-apply
    // or map-stamp check failed): the error as a reply of its own, or inside the running
    // extended batch (skipped to its Sync).
    awaitable<void> report_attach_failure(bool report_with_ready, std::string_view sqlstate,
                                          const std::string& message);
    // Tells settings_tracker_ what a Sync'ed extended batch about to go to `s` executes.
    void track_batch_settings(ServerConn& s, std::string_view batch);
    std::vector<std::string_view> batch_texts_;  // its buffer, reused
    FanoutLegs fanout_legs_;         // the servers of the multi-shard statement running (cancel)
    bool client_watch_ = false;      // a ClientWatch is in force
    uint64_t client_watch_gen_ = 0;  // which one (its coroutine may start after it ended)
    void translate_into(std::string& out, ServerConn& s, char type, std::string_view frame);
    void ensure_prepared(std::string& out, ServerConn& s, std::string_view name);
    char transaction_status() const;
    router::RouterContext router_context() const;
    // The buckets a routed statement touches; waits while any of them is paused, then counts
    // them as touched by the current transaction. Returns true when it waited: the map may have
    // changed meanwhile, so the caller must route again (a held statement must never run on
    // the old owner of a bucket that moved).
    // Waits at most [proxy] max_pause_ms: past that `r` becomes an Error route (57014 naming
    // the pause) and it returns false.
    awaitable<bool> hold_for_paused_buckets(const router::Analysis& a, router::Route& r);
    // Its common case, without suspending (callers try it first): when no bucket the statement
    // touches can be paused, notes the buckets and returns true; false when
    // hold_for_paused_buckets must decide.
    bool touch_buckets_unless_paused(const router::Analysis& a, const router::Route& r);
    // attach_server's common case, without suspending: an idle pooled connection to `shard`
    // (or the one attached already); false when attach_server must decide.
    bool attach_idle_server(int shard);
    // session_read_route.cpp (issue 19): where the next attach of a statement for `shard` takes
    // its server from (a standby's read pool for a replica-safe read, else the primary), and the
    // client's last write for read_your_writes_ms.
    void plan_read(const router::Analysis* a, int shard);
    // A write the router did not analyse as one statement (a pipeline split by shard, a split
    // INSERT): the client's reads keep to the primaries for read_your_writes_ms.
    void note_client_write();
    // The legs of a multi-shard statement: each shard's endpoint (-1 the primary).
    std::vector<int> plan_fanout_reads(const router::Analysis& a,
                                       const std::vector<uint16_t>& shards);
    int read_endpoint_for(const router::Analysis& a, int shard);
    // The endpoint for a read by `mode` on `shard`, never `exclude` (-1 the primary, -2 none);
    // `primary_failed`: the primary just failed this read (its standbys may serve it at once).
    int pick_read_endpoint(ReadFrom mode, int shard, int exclude, bool primary_failed);
    // A read whose server could not be had (connect failure, breaker open): the pool of another
    // healthy endpoint of the shard to try once, or null (session_read_route.cpp).
    // `failed_endpoint`: the endpoint that failed (-1 the primary); `failed`: its pool, if known.
    Pool* read_retry_pool(int shard, int failed_endpoint, const Pool* failed);
    // session_read_retry.cpp: a read lost after it was sent, before any byte of its answer
    // reached the client, goes once to another endpoint. arm_lost_read() right after the
    // request was written (it must be alone on the connection); then await_read_or_retry()
    // waits for its ReadyForQuery, or for its loss, and resends it (`resend` appends the
    // request's frames for the new server). lost_read_taken() is on_lost's part.
    // `batch`: an extended-protocol batch, armed only when made of Parse, Bind, Describe,
    // Execute and its closing Sync (a Close or Flush among them would not replay the same).
    bool arm_lost_read(std::string_view batch = {});
    awaitable<void> await_read_or_retry(
        int shard, const std::function<void(ServerConn&, std::string&)>& resend);
    bool lost_read_taken(ServerConn& s, const std::string& why);
    Pool& pool_for(int shard, int plan);
    // The attached server may serve a statement for `shard` planned for `plan` (a primary
    // connection serves anything; a standby's only reads planned for it).
    bool server_fits(int shard, int plan) const;
    void forget_touched_buckets();
    // Statistics: a request sent to one shard (completed at its ReadyForQuery), or one the
    // proxy ran on several shards and merged itself (`reply` is what the client got).
    void stats_sent(std::string_view text, uint64_t param_hash,
                    const std::vector<std::string>* params, int shard);
    void stats_complete(ServerConn& s);
    void stats_merged(std::string_view text, uint64_t param_hash, uint32_t shards,
                      std::string_view reply);
    // A statement the proxy refused with 0A000 (session_stats.cpp): `text` may be empty (then
    // the simple query being handled, else the batch's statement).
    void stats_refused(std::string_view text, std::string_view message);
    // Adds legs to the proxy's lifetime per-shard counters (session_stats.cpp).
    void count_shard_legs(std::span<const stats::ShardLeg> legs);
    // Waits out a PAUSE for at most [proxy] max_pause_ms, counting the time as held
    // (session_pause.cpp); past the bound, the error to answer (57014 naming the pause).
    awaitable<std::optional<PoolError>> hold_while_paused(int shard);
    // Checks the shard's map stamp on the attached connection when the proxy's map changed
    // since it last did (session_map_check.cpp); false when it answered the client already.
    // With `lost`: a connection lost during the check (08006) is not reported; its message is
    // set there instead (the caller may try another endpoint: a read nothing was sent for yet).
    awaitable<bool> check_map_stamp(bool report_with_ready, std::string* lost = nullptr);
    bool in_transaction() const;
    // Replies the proxy composes itself wait until the replies owed to earlier requests are out.
    awaitable<void> wait_replies_out();
    // `uses_cursor`: a FETCH/MOVE/CLOSE, which runs where its cursor was declared.
    int route_target(const router::Route& r, bool uses_cursor = false) const;
    // Session-scoped state (session_state_guard.cpp): true when the statement was answered
    // here (refused in transaction pooling, or a DEALLOCATE the proxy answers itself).
    awaitable<bool> guard_session_state(const SessionStateUse& use);
    // LISTEN / UNLISTEN in transaction pooling, answered by the proxy, and the delivery of
    // notifications between transactions (session_listen.cpp). inbox_ is the subscription
    // (RAII: gone with the session); parked_: run() waits for the client's next message.
    awaitable<void> handle_listen(std::string_view sql);
    // Carries one out (after any refusal's ErrorResponse or the CommandComplete goes to `w`).
    // False when it was refused. `implicit_block`: outside a transaction block, it is staged
    // as inside one, and the caller ends the implicit transaction (inbox_->ended()).
    // `notice`: the truncation NOTICE goes with it (the extended protocol sends it at Parse).
    awaitable<bool> run_listen(const notify::ListenStatement& st, wire::MessageWriter& w,
                               bool implicit_block = false, bool notice = true);
    void ensure_inbox();
    void drop_inbox();
    // Ends of a transaction the proxy settles itself (held back, multi-shard): LISTEN /
    // UNLISTEN issued in it take effect or are dropped (others come from settings_tracker_).
    void listen_transaction_ended(bool committed);
    // A Close message ahead of a batch the proxy answers itself (pgjdbc sends those).
    void answer_close(std::string_view body, wire::MessageWriter& w);
    // A simple query of several statements (session_multi_statement.cpp): refused (true) when
    // it mixes what the proxy cannot carry; else multi_texts_ holds its statements' texts for
    // the settings tracker when it may change settings or the transaction.
    awaitable<bool> guard_multi_statement(const router::Analysis& a, std::string_view sql,
                                          const router::Route& r);
    std::vector<std::string_view> multi_texts_;
    bool multi_observed_ = false;  // its UNLISTENs wait for its outcome (the tracker's observer)
    // PREPARE TRANSACTION of a transaction that issued LISTEN / UNLISTEN: refused as by
    // PostgreSQL (session_listen.cpp); true when answered.
    awaitable<bool> refuse_prepare_after_listen(std::string_view sql);
    // An extended-protocol batch of LISTEN / UNLISTEN messages (proxy/notify/listen_batch.h):
    // answered (true), or false when `batch` is not one (session_listen_batch.cpp).
    awaitable<bool> answer_listen_batch(std::string_view batch);
    // The client prepared a LISTEN / UNLISTEN statement (in transaction pooling): its later
    // batches may Bind it (checked by flush_batch and route_batch only from then on).
    bool listen_prepared_ = false;
    void listen_discard_all(std::string_view sql);
    // The 0A000 message refusing LISTEN / UNLISTEN sent with the extended protocol in
    // transaction pooling in a batch the proxy cannot answer itself; empty otherwise.
    std::string listen_batch_refusal(std::string_view query) const;
    bool notifications_deliverable() const;
    void wake_notifications();
    awaitable<void> flush_notifications();
    std::unique_ptr<notify::Inbox> inbox_;
    bool parked_ = false;
    bool flushing_notifications_ = false;
    awaitable<void> send_to_shard(int shard, std::string_view frame, std::string_view sql,
                                  std::string_view stats_text = {});
    // The current simple query goes to `s` (attached, of `shard`): its statistics (under
    // `stats_text`, else `sql`), the Busy state, the server's query count.
    void note_simple_query_sent(ServerConn& s, int shard, std::string_view sql,
                                std::string_view stats_text);
    awaitable<void> handle_local(const router::Analysis& a);
    // [proxy] prepare_lookups (see prepared_lookups.h): the prepared statement the current
    // simple query (routed by its shape_) runs as, or null when it runs as it came.
    PreparedLookups::Statement* lookup_statement(const router::Analysis& a);
    // The same for a statement text with parameters of `types` (a client's unnamed Parse).
    PreparedLookups::Statement* lookup_statement(const router::Analysis& a, std::string_view text,
                                                 const std::vector<uint32_t>& types);
    // An extended batch of one unnamed statement (Parse, Bind, Describe, Execute, Sync) that is
    // a lookup: translated into `out` to run as its prepared statement. False (nothing written)
    // otherwise.
    bool translate_lookup_batch(std::string& out, ServerConn& s, std::string_view batch);
    // Runs the current simple query as `st` with shape_'s values on `shard`.
    awaitable<void> send_lookup(int shard, PreparedLookups::Statement& st, std::string_view frame,
                                std::string_view sql);
    // COPY table (cols) FROM STDIN on a sharded table: each row to the shard owning its key.
    awaitable<void> copy_in_split(const router::Analysis& a, std::string_view sql);
    // The client's COPY data placed row by row on `copy`'s shards until CopyDone or CopyFail:
    // the reply that ends the COPY (up to a ReadyForQuery whose status the caller may set), and
    // whether it failed; nothing when the session ends (the client left or broke the protocol).
    struct CopyEnd {
        std::string reply;
        bool failed = false;
    };
    awaitable<std::optional<CopyEnd>> copy_rows(const router::Analysis& a, std::string_view sql,
                                                CopyFanout& copy);
    awaitable<void> hold_set_local(std::string_view sql);
    bool holdable_session_batch(std::string_view batch);
    awaitable<void> hold_session_batch(std::string_view batch);
    awaitable<void> answer_failed_transaction(std::string_view batch, bool sync);
    awaitable<std::string> check_set_local(std::string_view sql);
    void hold_with_begin(std::string_view sql);
    awaitable<void> handle_session_statement(const router::Analysis& a, std::string_view frame,
                                             std::string_view sql);
    // A transaction spanning shards (session_txn.cpp). The attached server runs the current
    // statement; held_ parks the other participants. txn_begin_ (the client's BEGIN) and the
    // open savepoints are replayed on each shard the transaction joins; txn_wrote_ lists the
    // shards that ran a write since the transaction's BEGIN (or since the last multi-shard
    // end: noted for every statement, so a write the proxy saw before it knew a transaction
    // was open counts too). A shard not in it only read and commits without PREPARE.
    std::shared_ptr<txn::HeldTransaction> held_;
    std::string txn_begin_;
    txn::Savepoints txn_savepoints_;
    std::vector<int> txn_wrote_;
    bool multi_shard() const;
    bool held_failed() const;
    void begin_transaction(std::string_view sql);
    void note_transaction_write(bool writes, int shard);
    awaitable<bool> join_shard(int shard, bool report_with_ready);
    // COMMIT, ROLLBACK and savepoints of a transaction (simple protocol): true when answered
    // here (the multi-shard end), false when the statement goes on to the attached shard.
    awaitable<bool> transaction_control(std::string_view sql);
    // The same for an extended-protocol batch of one such statement.
    awaitable<bool> transaction_control_batch(std::string_view batch, bool sync);
    // Ends the multi-shard transaction everywhere; returns the reply for its end statement
    // (CommandComplete or ErrorResponse, without ReadyForQuery).
    awaitable<std::string> end_multi_shard(bool commit);
    // Applies a savepoint command on the parked participants; false (reported) on failure.
    awaitable<bool> savepoint_on_parked(std::string_view sql);
    // A statement on several shards inside an open transaction (session_txn_fanout.cpp): each
    // shard's part runs on the transaction's participant there (a missing shard joins, in
    // shard order), so reads see the transaction's own writes and writes commit with it.
    awaitable<void> fanout_in_transaction(const router::Analysis& a, const router::Route& r,
                                          std::string_view sql);
    // The participants on `shards` (the order the reply keeps) run `run`, then go back to the
    // transaction. Returns its result with the reply's ReadyForQuery status set, or nothing
    // when the statement was refused (already answered). `writes`: the shards become writers.
    awaitable<std::optional<HeldFanoutResult>> run_on_participants(
        const std::vector<uint16_t>& shards, bool writes, std::string_view sql,
        const std::function<awaitable<HeldFanoutResult>(const std::vector<HeldLeg>&)>& run);
    // An extended-protocol batch's one statement on `shards` inside the transaction (as
    // run_fanout_frames outside one): the reply, or nothing when refused (already answered).
    // The combining step of a merge inside a transaction runs on the transaction's own
    // participant of the shard it needs, when it has one (session_txn_fanout.cpp).
    CombineRunner transaction_combine_runner();
    std::shared_ptr<ServerConn> participant_on(uint16_t shard);
    awaitable<std::optional<std::string>> frames_in_transaction(
        const std::vector<uint16_t>& shards, bool writes, std::string_view sql,
        const std::function<std::string(ServerConn&)>& build, bool replicated);
    awaitable<void> run_insert_split(const std::string& batch, const batch_plan::InsertSplit& sp);
    // A combined statement's unnamed portal was suspended at its row limit inside a transaction:
    // an Execute before the next Bind cannot get the rest and is refused (session_multishard.cpp).
    bool merged_portal_suspended_ = false;
    // Which participant each cursor / named portal of the open transaction lives on
    // (session_cursors.cpp).
    CursorPlaces cursor_places_;
    // An Execute of a suspended combined portal (merged_portal_suspended_): refused, true.
    // Cursors of a transaction spanning shards (session_cursors.cpp): the shard a FETCH/MOVE/
    // CLOSE or a portal's Execute/Describe/Close must go to, if the cursor is known; and
    // noting where a DECLARE or a named portal's Bind runs.
    int cursor_target(std::string_view sql, bool uses_cursor, int target);
    std::optional<int> cursor_shard_of(std::string_view sql);
    std::optional<int> portal_shard(char type, std::string_view body);
    void note_cursor(std::string_view sql, std::string_view portal, int shard);
    awaitable<bool> refuse_suspended_merged_portal(std::string_view batch, bool sync);
    // The extended protocol's form of merge_rows: the batch's one Bind runs on the plan's shards
    // (each with the statement's Analysis::merge shard_sql, as its own unnamed statement), and
    // the client gets the replies its messages call for, around the combined rows.
    awaitable<void> run_merged_batch(const std::string& batch, const batch_plan::Merged& plan);
    // Where an extended-protocol batch goes (batch_plan.h); Reported after it told the client
    // why it cannot go anywhere.
    awaitable<BatchPlan> route_batch(std::string_view batch, bool sync);
    // Runs a batch whose Binds target several shards as consecutive per-shard pieces, each
    // ended by a Sync of the proxy's, presenting the client one reply stream and one RFQ.
    awaitable<void> run_split_batch(const std::string& batch, std::span<const int> bind_shards);
    // Its form when the batch ends with the client's Sync (session_split_atomic.cpp), the
    // pieces being (shard, frames without the Sync): outside a transaction they commit on every
    // shard as one at the Sync, or none does; inside one they run on the transaction's
    // participants (shards joining as needed) and a failed piece fails the transaction. False
    // (nothing done) when the batch holds transaction control (BEGIN, COMMIT, SAVEPOINT ...) of
    // its own outside a transaction; inside one, such a batch is refused (answered, true).
    awaitable<bool> run_split_batch_atomic(const std::vector<std::pair<int, std::string>>& pieces);
    // Appends the translated frames of `frames` for server `s`.
    void translate_frames(std::string& out, ServerConn& s, std::string_view frames);
    std::shared_ptr<const router::Analysis> statement_analysis(std::string_view name) const;
    // The Parse of a statement the client defined ("" the unnamed one); views into the proxy's
    // copy of its frame. False when there is none.
    bool statement_parse(std::string_view name, wire::Parse& out) const;
    // The text of a statement the client defined, a view of the proxy's copy; "" when none.
    std::string_view statement_text(std::string_view name) const;
    // Gives the Bind parameters that the router reads as shard keys the types the client
    // declared for them in Parse (`batch_types`: that Parse's, when it is in this batch;
    // otherwise the stored statement `name`'s). See proxy/param_types.cpp.
    void declare_param_types(router::Params& params, const std::vector<uint32_t>* batch_types,
                             const router::Analysis& a, std::string_view name) const;
    // The 0A000 refusal of a statement calling a user-defined function that reads sharded
    // tables (proxy/function_guard.h), or nullopt. See proxy/session_functions.cpp.
    // `calls`: may_call_function(sql) when already known (computed off the loop for a large text).
    net::awaitable<std::optional<router::Error>> risky_function_refusal(
        std::string_view sql, std::optional<bool> calls = std::nullopt);
    std::shared_ptr<const router::Analysis> analysis_of(std::string_view sql);
    // Large simple queries (proxy/session_large_query.cpp): read into a buffer of their own and
    // analysed on the proxy's analysis workers, so the event loop keeps serving other clients.
    bool large_query_ahead(size_t frame_size) const;
    awaitable<bool> serve_large_query(size_t frame_size);  // false: the session ends
    bool is_large(std::string_view sql) const;
    // Fills large_facts_ for `sql` (a view into large_frame_); false when the client left
    // meanwhile (the statement is dropped, not run).
    awaitable<bool> study_large(std::string_view sql);
    awaitable<std::shared_ptr<const router::Analysis>> analyse_large(std::string_view sql);
    // The shards' statements of a multi-shard route, and txn::atomic_statement of the text.
    awaitable<std::pair<std::vector<ShardQuery>, bool>> large_fanout_off_loop(
        std::shared_ptr<const router::Analysis> a, std::string_view sql, const router::Route& r,
        const std::vector<int>& read_legs);
    // The statistics' shape of a large `text`, computed off the loop for stats_sent/_merged.
    awaitable<void> prepare_large_stats(std::string_view text);
    const std::shared_ptr<const stats::Shape>* large_stats_shape_for(std::string_view text) const;
    // run_with_columns for a large text: the rewritten Query built off the loop.
    awaitable<void> run_large_with_columns(std::string_view sql, uint32_t at, std::string list);
    // The client closed its connection (a peek saw EOF); false through TLS (cannot tell).
    bool client_gone();
    // Records a client's Parse (named: under a proxy-chosen server name; unnamed: as the
    // client's current unnamed statement) and returns it.
    const ClientStatement& register_parse(std::string_view frame, const wire::Parse& p);

    Proxy& proxy_;
    net::ClientStream stream_;
    SessionState state_ = SessionState::Startup;
    std::string peer_;  // how logs name the client: "host:port", then "pid (host:port)"
    std::string addr_;  // host:port
    std::string user_name_, database_;
    std::shared_ptr<const std::vector<UserConfig>> user_list_;  // keeps *user_ alive across RELOAD
    const UserConfig* user_ = nullptr;
    std::optional<Held> paused_hold_;
    bool admin_ = false;
    int32_t pid_ = 0, secret_ = 0;
    net::Clock::time_point connected_at_ = net::Clock::now();
    net::Clock::time_point last_activity_ = net::Clock::now();
    std::map<std::string, std::string> startup_params_;

    std::string cbuf_;  // bytes read from the client, [cstart_, clen_) unconsumed
    size_t cstart_ = 0, clen_ = 0;

    std::shared_ptr<ServerConn> server_;
    Pool* server_pool_ = nullptr;
    // plan_read(): the next attach is a read that may go to another endpoint when its server
    // cannot be had (its read_from); consumed by the attach like read_plan_.
    std::optional<ReadFrom> retry_read_;
    int read_plan_ = -1;  // plan_read(): the next attach's standby endpoint; -1 the primary
    // The read whose server the last attach gave, and the one armed after it was sent.
    LostRead lost_read_;
    uint64_t relayed_total_ = 0;  // reply bytes relayed to the client, ever
    net::Clock::time_point last_write_at_{};
    char last_status_ = 'I';  // transaction status the client last saw
    net::Event released_;     // a server was given back (or lost)
    bool writing_ = false;
    net::Event write_done_;

    // The client's side of the protocol (proxy/core/client_machine.h): framing, the
    // extended-protocol messages held until Sync/Flush (routing needs the Bind), skipping to
    // Sync after an error. serve_loop carries out what it decides.
    core::ClientMachine client_;
    std::unordered_map<std::string, ClientStatement> statements_;
    std::string unnamed_parse_;  // the client's last unnamed Parse
    std::shared_ptr<const router::Analysis> unnamed_analysis_;
    // The BEGIN (and SET LOCALs) held back until a statement picks the shard; or the BEGIN a
    // joining shard needs before its first statement (proxy/core/held_begin.h).
    core::HeldBegin begin_;
    uint64_t unnamed_seq_ = 0;
    uint64_t client_id_;
    // Session settings (name -> the statement that sets it on a server), recorded once a
    // server accepted them, with transaction semantics; settings_ is its current view.
    SettingsTracker settings_tracker_;
    const std::map<std::string, std::string>& settings_ = settings_tracker_.current();
    std::string query_copy_;      // the Query message being handled (serve_loop)
    std::string forced_shard_;    // SET shardgate.shard
    router::LiteralShape shape_;  // reused buffers for the simple-protocol fast path
    router::Params shape_params_;
    bool used_shape_ = false;  // the current simple query was routed by its literal-free shape
    // Lookups sent to the attached server whose ReadyForQuery has not come (statement, its id
    // then): an error among their replies retires those names (see on_error).
    std::vector<std::pair<PreparedLookups::Statement*, uint64_t>> lookups_unconfirmed_;
    std::string lookup_out_;  // the messages of send_lookup, reused
    bool closing_ = false;
    bool split_piece_done_ = false;     // the running piece of a split batch got its RFQ
    bool split_error_ = false;          // a piece of a split batch failed
    bool touched_all_buckets_ = false;  // this transaction ran a statement on every bucket
    // A ring of in-flight requests: slots (and their strings' buffers) are reused, so recording
    // costs no allocation in steady state.
    std::vector<InflightRequest> inflight_ring_;
    size_t inflight_head_ = 0, inflight_count_ = 0;
    int64_t req_start_ns_ = 0;    // when the current request's first message was read
    int64_t pool_wait_ns_ = 0;    // time the current request waited for a server connection
    uint64_t req_bytes_in_ = 0;   // bytes of the current request's messages
    uint64_t relayed_bytes_ = 0;  // reply bytes relayed since the last completed request
    std::string batch_text_;      // statement text of the batch's first Bind (statistics)
    // The simple query being handled (a view into the client's buffer, valid while
    // handle_query runs; emptied when an extended-protocol batch is routed): what a refusal
    // is recorded under.
    std::string_view query_text_;
    int64_t held_ns_ = 0;                     // time the current request was held by a pause
    std::vector<stats::ShardLeg> leg_stats_;  // the legs of the last fan-out (statistics)
    uint64_t batch_param_hash_ = 0;
    std::string unnamed_query_;
    std::vector<uint32_t> touched_buckets_;
    // Buffers of the extended protocol's per-transaction path, kept between transactions so a
    // steady stream of Parse/Bind/Execute/Sync allocates nothing (see Recycled in
    // session_query.cpp for how they are lent and taken back).
    std::string batch_spare_;
    std::string out_spare_;
    std::vector<int> bind_shards_;  // route_batch(): each Bind's shard (a SplitByShard views it)
    wire::Bind bind_scratch_;
    router::Params bind_params_;
    // The last statement text analysis_of() looked up, with its analysis and the statement
    // cache's generation: a batch's Parse is looked at several times on its way to the shard.
    std::string memo_sql_;
    std::shared_ptr<const router::Analysis> memo_analysis_;
    uint64_t memo_generation_ = 0;
    // The large Query message being handled (null otherwise): owned, so a worker analysing it
    // never reads freed memory, even when the session ends first (session_large_query.cpp).
    std::shared_ptr<const std::string> large_frame_;
    std::optional<LargeTextFacts> large_facts_;  // study_large's results for the text in it
    LargeStatsShape large_stats_;                // prepare_large_stats' result
};

}  // namespace sg::proxy
