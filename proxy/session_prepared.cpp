// A client session's prepared statements: registering the client's Parse, finding a
// statement's analysis, and translating client statement names into the server connection's
// own (prepared there on first use).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <boost/container/small_vector.hpp>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include "proxy/admin.h"
#include "proxy/fanout.h"
#include "proxy/fanout_legs.h"
#include "proxy/having_params.h"
#include "proxy/merge_combine.h"
#include "proxy/notify/listen_statement.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/returning_order.h"
#include "proxy/session.h"
#include "proxy/session_frames.h"
#include "proxy/session_settings.h"
#include "proxy/shard_request.h"
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
#include "proxy/wire/writer.h"
#include "router/copy_split.h"
#include "router/literals.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;

const ClientStatement& Session::register_parse(std::string_view frame, const wire::Parse& p) {
    static const ClientStatement unnamed;
    // (A LISTEN statement's later Binds must not reach a pooled server: session_listen_batch.cpp.)
    if (!listen_prepared_ && notify::starts_with_listen(p.query) &&
        proxy_.config().proxy.pool_mode == PoolMode::Transaction)
        listen_prepared_ = true;
    if (p.statement.empty()) {
        unnamed_parse_.assign(frame);
        ++unnamed_seq_;
        unnamed_analysis_ = analysis_of(p.query);
        unnamed_query_.assign(p.query);
        return unnamed;
    }
    // A named statement lives under a proxy-chosen name, so it can be prepared on any server.
    ClientStatement st;
    st.id = next_statement_id();
    st.analysis = analysis_of(p.query);
    st.query.assign(p.query);
    wire::Parse renamed = p;
    std::string sname = statement_server_name(st.id);
    renamed.statement = sname;
    wire::MessageWriter w(st.parse_frame);
    wire::encode(renamed, w);
    return statements_[std::string(p.statement)] = std::move(st);
}

std::shared_ptr<const router::Analysis> Session::analysis_of(std::string_view sql) {
    auto& cache = proxy_.statements();
    if (memo_analysis_ && memo_generation_ == cache.generation() && sql == memo_sql_)
        return memo_analysis_;
    auto a = cache.find(sql);
    if (!a) a = cache.get(std::string(sql));
    memo_sql_.assign(sql);
    memo_analysis_ = a;
    memo_generation_ = cache.generation();
    if (memo_sql_.capacity() > 64 * 1024) {  // an idle session stays small
        std::string().swap(memo_sql_);
        memo_analysis_.reset();
    }
    return a;
}

std::shared_ptr<const router::Analysis> Session::statement_analysis(std::string_view name) const {
    if (name.empty()) return unnamed_analysis_;
    auto it = statements_.find(std::string(name));
    return it == statements_.end() ? nullptr : it->second.analysis;
}

std::string_view Session::statement_text(std::string_view name) const {
    if (name.empty())
        return unnamed_parse_.empty() ? std::string_view() : std::string_view(unnamed_query_);
    auto it = statements_.find(std::string(name));
    return it == statements_.end() ? std::string_view() : std::string_view(it->second.query);
}

bool Session::statement_parse(std::string_view name, wire::Parse& out) const {
    const std::string* frame = &unnamed_parse_;
    if (!name.empty()) {
        auto it = statements_.find(std::string(name));
        if (it == statements_.end()) return false;
        frame = &it->second.parse_frame;
    }
    return frame->size() >= 5 && wire::decode(bytes_of(frame_body(*frame)), out).ok();
}

void Session::ensure_prepared(std::string& out, ServerConn& s, std::string_view name) {
    if (name.empty()) {
        if (unnamed_parse_.empty()) return;
        auto owner = std::make_pair(client_id_, unnamed_seq_);
        if (s.unnamed_owner() != owner) {
            ShardRequest(out, s).inject_parse(unnamed_parse_);
            s.unnamed_owner() = owner;
        }
        return;
    }
    auto it = statements_.find(std::string(name));
    if (it == statements_.end()) return;  // the shard reports the unknown statement
    if (s.prepared().insert(it->second.id).second)
        ShardRequest(out, s).inject_parse(it->second.parse_frame);
}

void Session::translate_into(std::string& out, ServerConn& s, char type, std::string_view frame) {
    std::string_view body = frame_body(frame);
    ShardRequest req(out, s);
    switch (type) {
        case 'P': {
            wire::Parse p;
            if (!wire::decode(bytes_of(body), p).ok()) break;
            if (p.statement.empty()) {
                register_parse(frame, p);
                s.unnamed_owner() = {client_id_, unnamed_seq_};
                req.forward(frame);
                return;
            }
            const ClientStatement& st = register_parse(frame, p);
            req.forward(st.parse_frame);  // the client's Parse under the server's name
            s.prepared().insert(st.id);
            return;
        }
        case 'B': {
            // portal\0 statement\0 ...
            const char* nul = static_cast<const char*>(std::memchr(body.data(), 0, body.size()));
            if (!nul) break;
            size_t off = size_t(nul - body.data()) + 1;
            const char* nul2 =
                static_cast<const char*>(std::memchr(body.data() + off, 0, body.size() - off));
            if (!nul2) break;
            std::string_view stmt(body.data() + off, size_t(nul2 - (body.data() + off)));
            ensure_prepared(out, s, stmt);
            auto it = stmt.empty() ? statements_.end() : statements_.find(std::string(stmt));
            if (it == statements_.end()) break;
            append_renamed(req.untracked(), 'B', body, off, stmt,
                           statement_server_name(it->second.id));
            return;
        }
        case 'D':
        case 'C': {
            if (body.size() < 2 || body[0] != 'S') break;
            std::string_view stmt(body.data() + 1, body.size() - 2);
            if (type == 'D') ensure_prepared(out, s, stmt);
            auto it = stmt.empty() ? statements_.end() : statements_.find(std::string(stmt));
            if (it == statements_.end()) break;
            // The client's message under the server's name (a Close's CloseComplete is the
            // client's: expected here, the renamed bytes written by the encoder).
            if (type == 'C') req.forward_unbuffered(frame);
            append_renamed(req.untracked(), type, body, 1, stmt,
                           statement_server_name(it->second.id));
            if (type == 'C') {
                s.prepared().erase(it->second.id);
                statements_.erase(it);
            }
            return;
        }
        default:
            break;
    }
    req.forward(frame);  // as it came: its reply, if tracked, expected from its type
}

void Session::translate_frames(std::string& out, ServerConn& s, std::string_view frames) {
    wire::FrameCursor cursor(frames);
    while (const auto f = cursor.next()) {
        if (f->type == 'E') {
            ++proxy_.counters().queries;
            s.count_query();
        }
        translate_into(out, s, f->type, f->whole);
    }
}

}  // namespace sg::proxy
