// COPY FROM STDIN into a sharded table: rows are split by shard key as they stream in and
// the whole COPY commits on every shard or none.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <boost/container/small_vector.hpp>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include "common/sqlstate.h"
#include "proxy/admin.h"
#include "proxy/describe_type.h"
#include "proxy/fanout.h"
#include "proxy/fanout_legs.h"
#include "proxy/having_params.h"
#include "proxy/merge_combine.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/returning_order.h"
#include "proxy/session.h"
#include "proxy/session_frames.h"
#include "proxy/session_settings.h"
#include "proxy/spawn.h"
#include "proxy/stats/query_event.h"
#include "proxy/table_columns.h"
#include "proxy/txn/policy.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/copy.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/writer.h"
#include "router/copy_split.h"
#include "router/copy_split_binary.h"
#include "router/literals.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;

awaitable<void> Session::copy_in_split(const router::Analysis& a, std::string_view sql) {
    if (in_transaction()) {
        if (!proxy_.config().transactions.two_phase_commit) {
            co_await error_and_ready(
                sqlstate::kFeatureNotSupported,
                "COPY into a sharded table writes to every shard, and a transaction spans "
                "shards only with [transactions] two_phase_commit = true",
                "run the COPY outside the transaction");
            co_return;
        }
        // On the transaction's participants (every shard joins): the rows stay uncommitted until
        // the client's COMMIT, and a failed COPY fails the transaction, as in PostgreSQL.
        std::vector<uint16_t> shards;
        for (size_t i = 0; i < proxy_.config().shards.size(); ++i)
            shards.push_back(static_cast<uint16_t>(i));
        auto res = co_await run_on_participants(
            shards, true, sql,
            [&](const std::vector<HeldLeg>& legs) -> awaitable<HeldFanoutResult> {
                CopyFanout copy(proxy_, *user_);
                bool failed = false;
                std::string first =
                    co_await copy.start_held(legs, std::string(sql), settings_, failed);
                HeldFanoutResult out;
                out.failed = true;
                if (failed) {
                    out.reply = std::move(first);
                    co_return out;
                }
                co_await send(first);
                std::optional<CopyEnd> end = co_await copy_rows(a, sql, copy);
                if (!end) co_return out;  // the session is closing
                out.reply = std::move(end->reply);
                out.failed = end->failed || copy.failed();
                co_return out;
            });
        if (res && !res->reply.empty()) {
            stats_merged(sql, stats::text_hash(sql), static_cast<uint32_t>(shards.size()),
                         res->reply);
            co_await send(res->reply);
        }
        co_return;
    }
    co_await wait_replies_out();
    release_server();
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    FanoutLegs::arm(fanout_legs_);  // taken by the fan-out at once (see fanout_legs.h)
    CopyFanout copy(proxy_, *user_);
    bool failed = false;
    std::string first = co_await copy.start(std::string(sql), settings_, failed);
    co_await send(first);
    if (failed) {
        transition(SessionState::Ready);
        co_return;
    }
    std::optional<CopyEnd> end = co_await copy_rows(a, sql, copy);
    if (end) {
        if (!end->failed)
            stats_merged(sql, stats::text_hash(sql),
                         static_cast<uint32_t>(proxy_.config().shards.size()), end->reply);
        co_await send(end->reply);
    }
    forget_touched_buckets();
    if (state_ == SessionState::Busy) transition(SessionState::Ready);
}

awaitable<std::optional<Session::CopyEnd>> Session::copy_rows(const router::Analysis& a,
                                                              std::string_view sql,
                                                              CopyFanout& copy) {
    const auto& map = proxy_.shard_map();
    const auto& pcfg = proxy_.config().proxy;
    // Text and CSV rows, or binary tuples (asyncpg's copy_records_to_table, pgx CopyFrom).
    router::CopySplitter splitter(*a.copy);
    router::BinaryCopySplitter binary(a.copy->key_column);
    const bool is_binary = a.copy->format == router::CopyInfo::Format::Binary;
    std::vector<router::CopyRow> rows;
    std::string error;  // a complete ErrorResponse once the data turned out bad
    auto place_rows = [&]() -> awaitable<void> {
        for (const auto& row : rows) {
            if (!error.empty()) break;
            if (row.header) {
                co_await copy.row_to_all(row.data);
                continue;
            }
            uint32_t bucket = 0;
            if (row.key) {
                auto key = row.key_binary ? router::canonical_from_binary(a.key_type, *row.key)
                                          : router::canonical_from_text(a.key_type, *row.key);
                if (!key) {
                    wire::MessageWriter w(error);
                    wire::ErrorBuilder(
                        wire::Severity::Error, key.error().sqlstate,
                        fmt::format("COPY {}, row {}: shard key: {}", a.table,
                                    is_binary ? binary.rows_seen() : splitter.rows_seen(),
                                    key.error().message))
                        .encode_error(w);
                    break;
                }
                bucket = router::bucket_of_key(*key, map.bucket_bits());
            }
            co_await copy.row(map.shard_of_bucket(bucket), row.data);
        }
        rows.clear();
    };
    auto abort_copy = [&](const std::string& why) -> awaitable<void> {
        co_await copy.finish(false, why);
    };
    for (;;) {
        auto st = wire::parse_frame(
            wire::as_bytes(std::string_view(cbuf_.data() + cstart_, clen_ - cstart_)),
            static_cast<size_t>(pcfg.max_message_bytes));
        if (std::holds_alternative<wire::NeedMore>(st)) {
            if (!co_await read_more()) {
                if (error.empty()) co_await abort_copy("client connection lost during COPY");
                co_return std::nullopt;
            }
            continue;
        }
        if (auto* bad = std::get_if<wire::Malformed>(&st)) {
            if (error.empty()) co_await abort_copy("client sent an invalid message during COPY");
            co_await fatal(sqlstate::kProtocolViolation,
                           fmt::format("invalid message from client during COPY: {}", bad->reason));
            closing_ = true;
            co_return std::nullopt;
        }
        const auto f = std::get<wire::Frame>(st);
        std::string_view body = wire::as_chars(f.body);
        cstart_ += f.size;
        if (f.type == 'd') {
            if (!error.empty()) continue;  // after an error the rest of the data is discarded
            if (auto s = is_binary ? binary.feed(body, rows) : splitter.feed(body, rows); !s) {
                wire::MessageWriter w(error);
                wire::ErrorBuilder(wire::Severity::Error, s.error().sqlstate,
                                   fmt::format("COPY {}: {}", a.table, s.error().message))
                    .encode_error(w);
            }
            co_await place_rows();
            if (!error.empty()) co_await abort_copy("invalid COPY data");
            continue;
        }
        if (f.type == 'c') {
            if (error.empty()) {
                if (auto s = is_binary ? binary.finish(rows) : splitter.finish(rows); !s) {
                    wire::MessageWriter w(error);
                    wire::ErrorBuilder(wire::Severity::Error, s.error().sqlstate,
                                       fmt::format("COPY {}: {}", a.table, s.error().message))
                        .encode_error(w);
                }
                co_await place_rows();
            }
            // (Named results, no co_await or temporaries inside co_return: GCC 12 freed the
            // moved string of `co_return CopyEnd{std::move(error), ...}` with the frame.)
            std::optional<CopyEnd> end(std::in_place);
            if (error.empty()) {
                end->reply = co_await copy.finish(true, {});
            } else {
                co_await abort_copy("invalid COPY data");
                wire::append_ready_for_query(error, 'I');
                end->reply = std::move(error);
                end->failed = true;
            }
            co_return end;
        }
        if (f.type == 'f') {
            wire::CopyFail cf;
            std::string why =
                wire::decode(f.body, cf).ok() ? std::string(cf.message) : "COPY failed";
            std::optional<CopyEnd> end(std::in_place);
            end->failed = true;
            if (error.empty()) {
                end->reply = co_await copy.finish(false, why);
            } else {
                wire::append_ready_for_query(error, 'I');
                end->reply = std::move(error);
            }
            co_return end;
        }
        if (f.type == 'H' || f.type == 'S') continue;  // ignored during COPY, as by PostgreSQL
        if (error.empty()) co_await abort_copy("unexpected message during COPY");
        co_await fatal(
            sqlstate::kProtocolViolation,
            fmt::format("unexpected message type {} during COPY", describe_type(f.type)));
        closing_ = true;
        co_return std::nullopt;
    }
}

}  // namespace sg::proxy
