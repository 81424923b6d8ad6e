// The collector of a multi-shard statement: every leg's server connection reports to it
// (rows, command tags, errors, ReadyForQuery), with the per-leg figures the statistics use;
// and the small frame helpers of the fan-out. Internal to proxy/fanout.cpp.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include "proxy/fanout_legs.h"
#include "proxy/notice_merge.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/server_conn.h"
#include "proxy/session_settings.h"
#include "proxy/spawn.h"
#include "proxy/txn/coordinator.h"
#include "proxy/txn/participants.h"
#include "proxy/txn/policy.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/copy.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/writer.h"

namespace sg::proxy::fanout_detail {

namespace asio = net::asio;

// What one shard answered.
struct ShardReply {
    std::string shard_name;
    std::string row_description;  // the first RowDescription frame
    std::string rows;             // DataRow frames
    std::vector<std::string> tags;
    std::string notices;  // NoticeResponse frames
    std::string error;    // the first ErrorResponse frame
    std::string error_message;
    bool ready = false;
    bool lost = false;
    bool copy = false;
    std::string copy_response;  // the CopyInResponse / CopyOutResponse frame
    std::string head;           // extended protocol: ParseComplete, BindComplete, descriptions
    bool copy_in = false;
    std::string raw;               // every frame but ReadyForQuery, in order (batch pieces)
    std::vector<size_t> ready_at;  // raw.size() at each ReadyForQuery: where each Sync's reply ends
    // Statistics of this leg (steady-clock nanoseconds; bytes as framed on the wire).
    int shard = -1;
    int64_t pool_wait_ns = 0, sent_ns = 0, ready_ns = 0;
    uint64_t bytes_sent = 0, bytes_received = 0, data_rows = 0;
};

inline int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               net::Clock::now().time_since_epoch())
        .count();
}

// The rows of a leg: the counts of its command tags ("SELECT 3", "UPDATE 2", "INSERT 0 1"),
// else its DataRows (a tag without a count).
inline uint64_t leg_rows(const ShardReply& r) {
    uint64_t n = 0;
    bool counted = false;
    for (const auto& t : r.tags) {
        const size_t sp = t.rfind(' ');
        if (sp == std::string::npos) continue;
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(t.data() + sp + 1, t.data() + t.size(), v);
        if (ec == std::errc() && end == t.data() + t.size()) {
            n += v;
            counted = true;
        }
    }
    return counted ? n : r.data_rows;
}

class Collector : public ServerSink {
public:
    // `budget`: the bytes of rows all shards' replies may hold together ([proxy] max_merge_bytes).
    Collector(asio::any_io_executor ex, size_t n, size_t budget)
        : done_(ex), replies_(n), budget_(budget) {}
    // The rows went past the budget: the rest are dropped and the statement fails.
    bool overflowed() const { return overflowed_; }

    void bind(ServerConn& s, size_t index) { index_of_[&s] = index; }
    std::vector<ShardReply>& replies() { return replies_; }
    bool all_ready() const { return ready_ == replies_.size(); }
    // Every shard either entered COPY IN or finished (with an error).
    bool all_copying_or_ready() const {
        for (const auto& r : replies_)
            if (!r.copy && !r.ready) return false;
        return true;
    }
    net::Event& done() { return done_; }
    // A reply emptied for the next request; which shard it is and a broken connection stay.
    static void forget_reply(ShardReply& r) {
        std::string name = std::move(r.shard_name);
        bool lost = r.lost;
        std::string why = lost ? r.error_message : std::string();
        r = ShardReply{};
        r.shard_name = std::move(name);
        r.lost = lost;
        r.error_message = std::move(why);
    }
    // Forgets the replies (not which shard is which, nor a broken connection) before the next
    // round of queries.
    void reset() {
        ready_ = 0;
        for (auto& r : replies_) forget_reply(r);
    }
    // Forgets shard i's reply before its next request (one shard at a time).
    void reset_one(size_t i) {
        ShardReply& r = replies_[i];
        if (r.ready) --ready_;
        forget_reply(r);
        if (r.lost) {
            r.ready = true;
            ++ready_;
        }
    }
    // A participant left out of a round (or broken) counts as answered.
    void mark_ready(size_t i) {
        if (!replies_[i].ready) {
            replies_[i].ready = true;
            ++ready_;
        }
    }

    awaitable<void> relay(ServerConn& s, const std::vector<asio::const_buffer>& frames,
                          size_t) override {
        ShardReply& r = replies_[index_of_[&s]];
        for (const auto& b : frames) {
            r.bytes_received += b.size();
            // The server connection relays whole frames only.
            wire::FrameCursor cursor(
                std::string_view(static_cast<const char*>(b.data()), b.size()));
            while (auto f = cursor.next()) {
                const char type = f->type;
                const std::string_view frame = f->whole;
                if (type != 'Z')
                    r.raw.append(frame);
                else
                    r.ready_at.push_back(r.raw.size());
                switch (type) {
                    case 'T':
                        if (r.row_description.empty()) r.row_description.assign(frame);
                        r.head.append(frame);
                        break;
                    case '1':
                    case '2':
                    case '3':
                    case 't':
                    case 'n':
                        r.head.append(frame);
                        break;
                    case 'D':
                    case 'd':  // COPY TO: concatenated like rows
                        if (overflowed_) break;
                        if (buffered_ + frame.size() > budget_) {
                            overflowed_ = true;
                            done_.notify_all();  // the set cancels the legs
                            break;
                        }
                        buffered_ += frame.size();
                        r.rows.append(frame);
                        if (frame[0] == 'D') ++r.data_rows;
                        break;
                    case 'C':
                        r.tags.emplace_back(frame.substr(5, frame.size() - 6));
                        break;
                    case 'N':
                        r.notices.append(frame);
                        break;
                    case 'E':
                        if (r.error.empty()) {
                            r.error.assign(frame);
                            wire::ErrorResponse e;
                            if (wire::decode(wire::as_bytes(frame.substr(5)), e).ok())
                                r.error_message = e.message();
                        }
                        break;
                    case 'G':
                    case 'H':
                    case 'W':
                        r.copy = true;
                        r.copy_in = type == 'G';
                        if (r.copy_response.empty()) r.copy_response.assign(frame);
                        done_.notify_all();
                        break;
                    default:
                        break;
                }
            }
        }
        co_return;
    }
    void on_ready(ServerConn& s, char) override {
        ShardReply& r = replies_[index_of_[&s]];
        if (!r.ready) {
            r.ready = true;
            r.ready_ns = steady_ns();
            ++ready_;
        }
        done_.notify_all();  // waiters check their own condition (all, or one shard's)
    }
    void on_quiet_done(ServerConn&) override { done_.notify_all(); }
    void on_lost(ServerConn& s, const std::string& why) override {
        ShardReply& r = replies_[index_of_[&s]];
        r.lost = true;
        if (r.error.empty()) r.error_message = why;
        if (!r.ready) {
            r.ready = true;
            r.ready_ns = steady_ns();
            ++ready_;
        }
        if (all_ready()) done_.notify_all();
    }

private:
    net::Event done_;
    std::vector<ShardReply> replies_;
    std::map<const ServerConn*, size_t> index_of_;
    size_t ready_ = 0;
    size_t budget_ = SIZE_MAX, buffered_ = 0;
    bool overflowed_ = false;
};

inline std::string copy_fail_frame(std::string_view why) {
    std::string out;
    wire::MessageWriter w(out);
    wire::encode(wire::CopyFail{why}, w);
    return out;
}

inline std::string error_reply(std::string_view sqlstate, const std::string& message,
                               const std::string& detail = {}) {
    std::string out;
    wire::MessageWriter w(out);
    wire::ErrorBuilder b(wire::Severity::Error, sqlstate, message);
    if (!detail.empty()) b.detail(detail);
    b.encode_error(w);
    wire::append_ready_for_query(out, 'I');
    return out;
}

}  // namespace sg::proxy::fanout_detail
