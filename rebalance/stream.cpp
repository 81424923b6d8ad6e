#include "rebalance/stream.h"
#include "common/sqlstate.h"

#include <fmt/format.h>
#include <sys/select.h>
#include <algorithm>

namespace sg::rebalance {
namespace {

// PostgreSQL timestamps count microseconds from 2000-01-01.
int64_t pg_now_us() {
    using namespace std::chrono;
    constexpr int64_t kEpochDiffUs = 946684800LL * 1000000;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count() -
           kEpochDiffUs;
}

std::optional<std::string_view> key_of(const Tuple& row, int key_column) {
    const auto& v = row[static_cast<size_t>(key_column)];
    if (v.kind != TupleColumn::Kind::Text) return std::nullopt;
    return std::string_view(v.value);
}

}  // namespace

Expected<Result> emit_fence(PGconn* source, const std::string& label, const std::string& token) {
    std::string sql =
        "BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_logical_emit_message("
        "true, " +
        quote_literal(source, kFencePrefix) + ", " + quote_literal(source, token) + "); COMMIT";
    return exec(source, label, sql);
}

Status ChangeStream::start(const std::string& slot, const std::string& publication) {
    PGconn* c = repl_.get();
    std::string sql = fmt::format(
        "START_REPLICATION SLOT {} LOGICAL 0/0 (proto_version '1', publication_names {}, "
        "messages 'true')",
        quote_ident(c, slot), quote_literal(c, publication));
    Result r(PQexec(c, sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COPY_BOTH)
        return Error{
            sqlstate::kObjectNotInPrerequisiteState,
            ctx_.source_endpoint.label + ": START_REPLICATION failed: " + PQerrorMessage(c)};
    return Ok{};
}

Status ChangeStream::send_status(bool force) {
    auto now = Clock::now();
    if (!force && now - last_status_ < std::chrono::seconds(1)) return Ok{};
    last_status_ = now;
    std::string msg = encode_status_update(flushed_, pg_now_us());
    if (PQputCopyData(repl_.get(), msg.data(), static_cast<int>(msg.size())) != 1 ||
        PQflush(repl_.get()) != 0)
        return Error{sqlstate::kConnectionFailure,
                     ctx_.source_endpoint.label +
                         ": cannot send standby status: " + PQerrorMessage(repl_.get())};
    return Ok{};
}

Status ChangeStream::flush() {
    if (auto st = writer_.commit(); !st) return last_error_ = st, st;
    flushed_ = std::max(flushed_, committed_lsn_);
    batched_ = 0;
    return Ok{};
}

Expected<bool> ChangeStream::pump(Clock::time_point until, const std::string& fence) {
    // Whatever happens, nothing is left uncommitted on a target when this returns: a switch
    // reads staging next, and the slot's confirmed position must not run ahead of the targets.
    auto r = pump_changes(until, fence);
    if (auto st = flush(); !st && r) return st.error();
    return r;
}

Expected<bool> ChangeStream::pump_changes(Clock::time_point until, const std::string& fence) {
    PGconn* c = repl_.get();
    bool seen = false;
    for (;;) {
        char* buf = nullptr;
        int n = PQgetCopyData(c, &buf, 1);
        if (n > 0) {
            std::string data(buf, static_cast<size_t>(n));
            PQfreemem(buf);
            auto frame = decode_frame(data);
            if (!frame) return last_error_ = frame.error(), frame.error();
            if (frame->type == StreamFrame::Type::Keepalive) {
                if (auto st = send_status(frame->reply_requested); !st) return st.error();
                continue;
            }
            auto msg = decode_pgoutput(frame->payload);
            if (!msg) return last_error_ = msg.error(), msg.error();
            if (auto st = handle(*msg, fence, seen); !st) return last_error_ = st, st.error();
            if (seen) return true;
            continue;
        }
        if (n == -1 || n == -2) {
            Error e{
                sqlstate::kConnectionFailure,
                ctx_.source_endpoint.label + ": replication stream ended: " + PQerrorMessage(c)};
            last_error_ = e;
            return e;
        }
        if (auto st = send_status(false); !st) return st.error();
        auto now = Clock::now();
        if (now >= until) return false;
        // Nothing buffered: wait for the socket, at most until the deadline.
        int fd = PQsocket(c);
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(fd, &rd);
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - now);
        left = std::min<std::chrono::microseconds>(left, std::chrono::milliseconds(500));
        timeval tv{static_cast<time_t>(left.count() / 1000000),
                   static_cast<suseconds_t>(left.count() % 1000000)};
        if (select(fd + 1, &rd, nullptr, nullptr, &tv) < 0 && errno != EINTR)
            return Error{sqlstate::kConnectionFailure,
                         ctx_.source_endpoint.label + ": select failed"};
        if (PQconsumeInput(c) != 1)
            return Error{
                sqlstate::kConnectionFailure,
                ctx_.source_endpoint.label + ": replication connection lost: " + PQerrorMessage(c)};
    }
}

Status ChangeStream::handle(const PgOutputMsg& m, const std::string& fence, bool& seen) {
    switch (m.type) {
        case PgOutputMsg::Type::Relation: {
            auto find = [&](const std::vector<TableInfo>& tables) {
                for (size_t i = 0; i < tables.size(); ++i)
                    if (tables[i].schema == m.relation.nspname &&
                        tables[i].relname == m.relation.relname)
                        return static_cast<int>(i);
                return -1;
            };
            Binding b;
            b.table = find(ctx_.tables);
            b.reference = b.table < 0 ? find(ctx_.reference) : -1;
            const TableInfo* info = b.table >= 0       ? &ctx_.tables[b.table]
                                    : b.reference >= 0 ? &ctx_.reference[b.reference]
                                                       : nullptr;
            if (info)
                for (const auto& col : m.relation.columns)
                    b.column.push_back(info->column_index(col));
            relations_[m.relation.relid] = std::move(b);
            return Ok{};
        }
        case PgOutputMsg::Type::Change:
            return apply(m.change);
        case PgOutputMsg::Type::Commit:
            // Applied inside the targets' open transactions; the slot may forget it once they
            // commit (at most every 256 source transactions, and whenever pump returns).
            committed_lsn_ = m.lsn;
            if (!writer_.in_transaction())
                flushed_ = m.lsn;
            else if (++batched_ >= 256)
                return flush();
            return Ok{};
        case PgOutputMsg::Type::Message:
            if (!fence.empty() && m.prefix == kFencePrefix && m.content == fence) seen = true;
            return Ok{};
        case PgOutputMsg::Type::Truncate:
            for (uint32_t relid : m.truncated) {
                auto it = relations_.find(relid);
                if (it == relations_.end()) continue;
                if (it->second.table >= 0)
                    if (auto st = writer_.truncate(it->second.table); !st) return st;
                if (it->second.reference >= 0)
                    if (auto st = references_.truncate(it->second.reference); !st) return st;
            }
            return Ok{};
        default:
            return Ok{};
    }
}

Tuple ChangeStream::reorder(const std::vector<int>& map, size_t ncols, const Tuple& in) const {
    Tuple out(ncols);
    for (size_t i = 0; i < in.size() && i < map.size(); ++i)
        if (map[i] >= 0) out[static_cast<size_t>(map[i])] = in[i];
    return out;
}

Status ChangeStream::apply(const ChangeMsg& c) {
    auto it = relations_.find(c.relid);
    if (it == relations_.end())
        return Error{sqlstate::kProtocolViolation,
                     ctx_.source_endpoint.label + ": change for an undescribed relation"};
    const Binding& b = it->second;
    if (b.reference >= 0) return apply_reference(static_cast<size_t>(b.reference), b.column, c);
    if (b.table < 0) return Ok{};
    const TableInfo& t = ctx_.tables[b.table];
    const size_t ti = static_cast<size_t>(b.table);

    // Removes the old row from staging: only its target when the key tells the bucket, from
    // every target of this source otherwise (a primary key is unique within the source).
    auto remove_old = [&](const Tuple& old) -> Status {
        if (t.key_in_primary_key()) {
            int target = ctx_.moving_target(t, key_of(old, t.key_column));
            if (target < 0) return Ok{};
            ++applied_;
            return writer_.remove(static_cast<size_t>(target), ti, old);
        }
        for (size_t k = 0; k < ctx_.targets.size(); ++k)
            if (auto st = writer_.remove(k, ti, old); !st) return st;
        ++applied_;
        return Ok{};
    };

    if (c.kind == ChangeMsg::Kind::Delete)
        return remove_old(reorder(b.column, t.columns.size(), *c.old_tuple));

    Tuple row = reorder(b.column, t.columns.size(), c.new_tuple);
    if (c.old_tuple) {
        // The primary key (or the replica identity) changed: the old row is gone.
        Tuple old = reorder(b.column, t.columns.size(), *c.old_tuple);
        if (auto st = remove_old(old); !st) return st;
    }
    int64_t bucket = ctx_.bucket_of(t, key_of(row, t.key_column));
    if (bucket < 0) return Ok{};
    int target = ctx_.target_of_bucket[static_cast<size_t>(bucket)];
    if (target < 0) return Ok{};
    ++applied_;
    return writer_.upsert(static_cast<size_t>(target), ti, row, bucket);
}

// Reference rows carry no bucket: a change goes to every target still taking them from this
// stream (none once each has its first buckets, when the proxies write them instead).
Status ChangeStream::apply_reference(size_t table, const std::vector<int>& columns,
                                     const ChangeMsg& c) {
    if (!references_.active()) return Ok{};
    const size_t ncols = ctx_.reference[table].columns.size();
    ++applied_;
    if (c.kind == ChangeMsg::Kind::Delete)
        return references_.remove(table, reorder(columns, ncols, *c.old_tuple));
    if (c.old_tuple)  // the primary key changed: the old row is gone
        if (auto st = references_.remove(table, reorder(columns, ncols, *c.old_tuple)); !st)
            return st;
    return references_.upsert(table, reorder(columns, ncols, c.new_tuple));
}

}  // namespace sg::rebalance
