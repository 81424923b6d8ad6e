#include "proxy/fanout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstring>

#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/server_conn.h"
#include "proxy/session_settings.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace asio = net::asio;

namespace {

inline uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// What one shard answered.
struct ShardReply {
    std::string shard_name;
    std::string row_description;  // the first RowDescription frame
    std::string rows;             // DataRow frames
    std::vector<std::string> tags;
    std::string notices;          // NoticeResponse frames
    std::string error;            // the first ErrorResponse frame
    std::string error_message;
    bool ready = false;
    bool lost = false;
    bool copy = false;
};

class Collector : public ServerSink {
public:
    Collector(asio::any_io_executor ex, size_t n) : done_(ex), replies_(n) {}

    void bind(ServerConn& s, size_t index) { index_of_[&s] = index; }
    std::vector<ShardReply>& replies() { return replies_; }
    bool all_ready() const { return ready_ == replies_.size(); }
    net::Event& done() { return done_; }

    awaitable<void> relay(ServerConn& s, const std::vector<asio::const_buffer>& frames) override {
        ShardReply& r = replies_[index_of_[&s]];
        for (const auto& b : frames) {
            const auto* p = static_cast<const uint8_t*>(b.data());
            size_t n = b.size(), pos = 0;
            while (pos + 5 <= n) {
                char type = static_cast<char>(p[pos]);
                size_t total = size_t(be32(p + pos + 1)) + 1;
                std::string_view frame(reinterpret_cast<const char*>(p + pos), total);
                switch (type) {
                    case 'T': if (r.row_description.empty()) r.row_description.assign(frame); break;
                    case 'D': r.rows.append(frame); break;
                    case 'C': r.tags.emplace_back(frame.substr(5, frame.size() - 6)); break;
                    case 'N': r.notices.append(frame); break;
                    case 'E':
                        if (r.error.empty()) {
                            r.error.assign(frame);
                            wire::ErrorResponse e;
                            if (wire::decode(wire::as_bytes(frame.substr(5)), e).ok()) r.error_message = e.message();
                        }
                        break;
                    case 'G': case 'H': case 'W': r.copy = true; break;
                    default: break;
                }
                pos += total;
            }
        }
        co_return;
    }
    void on_ready(ServerConn& s, char) override {
        ShardReply& r = replies_[index_of_[&s]];
        if (!r.ready) {
            r.ready = true;
            ++ready_;
        }
        if (all_ready()) done_.notify_all();
    }
    void on_lost(ServerConn& s, const std::string& why) override {
        ShardReply& r = replies_[index_of_[&s]];
        r.lost = true;
        if (r.error.empty()) r.error_message = why;
        if (!r.ready) {
            r.ready = true;
            ++ready_;
        }
        if (all_ready()) done_.notify_all();
    }

private:
    net::Event done_;
    std::vector<ShardReply> replies_;
    std::map<const ServerConn*, size_t> index_of_;
    size_t ready_ = 0;
};

std::string error_reply(std::string_view sqlstate, const std::string& message, const std::string& detail = {}) {
    std::string out;
    wire::MessageWriter w(out);
    wire::ErrorBuilder b(wire::Severity::Error, sqlstate, message);
    if (!detail.empty()) b.detail(detail);
    b.encode_error(w);
    out.append({'Z', 0, 0, 0, 5, 'I'});
    return out;
}

}  // namespace

std::string merge_command_tags(const std::vector<std::string>& tags) {
    if (tags.empty()) return {};
    // "VERB [oid] count": sum the trailing number when every tag has one.
    const std::string& first = tags.front();
    size_t sp = first.rfind(' ');
    if (sp == std::string::npos) return first;
    std::string prefix = first.substr(0, sp + 1);
    uint64_t total = 0;
    for (const auto& t : tags) {
        size_t tsp = t.rfind(' ');
        if (tsp == std::string::npos || t.substr(0, tsp + 1) != prefix) return first;
        uint64_t v = 0;
        auto [ptr, ec] = std::from_chars(t.data() + tsp + 1, t.data() + t.size(), v);
        if (ec != std::errc() || ptr != t.data() + t.size()) return first;
        total += v;
    }
    return prefix + std::to_string(total);
}

awaitable<std::string> run_fanout(Proxy& proxy, const UserConfig& user, const std::vector<ShardQuery>& queries,
                                  const std::map<std::string, std::string>& settings) {
    Collector sink(proxy.io().get_executor(), queries.size());
    std::vector<std::pair<Pool*, std::shared_ptr<ServerConn>>> servers;
    auto give_back = [&] {
        for (auto& [pool, s] : servers) {
            if (s->sink() == &sink) s->detach();
            pool->release(std::move(s));
        }
        servers.clear();
    };
    // Acquire in shard order: every fan-out takes connections in the same order, so two of
    // them waiting on full pools cannot deadlock each other.
    for (const auto& q : queries) {
        Pool& pool = proxy.pool(q.shard, user);
        auto got = co_await pool.acquire();
        if (auto* err = std::get_if<PoolError>(&got)) {
            give_back();
            co_return error_reply(err->sqlstate, err->message);
        }
        servers.emplace_back(&pool, std::move(std::get<std::shared_ptr<ServerConn>>(got)));
    }
    for (size_t i = 0; i < queries.size(); ++i) {
        ServerConn& s = *servers[i].second;
        sink.bind(s, i);
        sink.replies()[i].shard_name = s.target().shard_name;
        s.attach(&sink);
        std::string out;
        wire::MessageWriter w(out);
        if (std::string sync = settings_sync_statements(s.applied_settings(), settings); !sync.empty()) {
            w.begin('Q');
            w.cstr(sync);
            w.end();
            s.expect(ServerConn::Expect::SwallowToReady);
        }
        w.begin('Q');
        w.cstr(queries[i].sql);
        w.end();
        s.expect(ServerConn::Expect::Ready);
        s.count_query();
        s.unnamed_owner() = {0, 0};
        co_await s.write(out);
    }
    while (!sink.all_ready()) co_await sink.done().wait();
    give_back();

    auto& replies = sink.replies();
    std::vector<std::string> failed;
    for (const auto& r : replies)
        if (!r.error.empty() || r.lost) failed.push_back(r.shard_name);
    if (!failed.empty()) {
        // Report the first failure as the shard reported it, naming every shard that failed:
        // the others ran (and committed) their part.
        for (const auto& r : replies) {
            if (r.error.empty() && !r.lost) continue;
            std::string detail = fmt::format("failed on shard(s): {}; succeeded on {} of {} shard(s)",
                                             fmt::join(failed, ", "), replies.size() - failed.size(), replies.size());
            if (r.lost) co_return error_reply("08006", fmt::format("shard \"{}\": {}", r.shard_name, r.error_message), detail);
            // Re-encode the shard's error with the detail added.
            wire::ErrorResponse e;
            std::string out;
            if (wire::decode(wire::as_bytes(std::string_view(r.error).substr(5)), e).ok()) {
                wire::ErrorBuilder b(wire::Severity::Error, e.sqlstate(),
                                     fmt::format("shard \"{}\": {}", r.shard_name, e.message()));
                b.detail(detail);
                if (!e.hint().empty()) b.hint(std::string(e.hint()));
                wire::MessageWriter w(out);
                b.encode_error(w);
                out.append({'Z', 0, 0, 0, 5, 'I'});
                co_return out;
            }
            co_return error_reply("XX000", fmt::format("shard \"{}\" failed", r.shard_name), detail);
        }
    }
    std::string out;
    for (const auto& r : replies) {
        if (r.copy) co_return error_reply("0A000", "COPY on several shards at once is not supported for this statement");
        out += r.notices;
    }
    for (const auto& r : replies)
        if (!r.row_description.empty()) {
            out += r.row_description;
            break;
        }
    for (const auto& r : replies) out += r.rows;
    // Statement by statement (a Query may hold several): merge the i-th tag of every shard.
    size_t ntags = replies.front().tags.size();
    for (size_t i = 0; i < ntags; ++i) {
        std::vector<std::string> tags;
        for (const auto& r : replies)
            if (i < r.tags.size()) tags.push_back(r.tags[i]);
        wire::MessageWriter w(out);
        w.begin('C');
        w.cstr(merge_command_tags(tags));
        w.end();
    }
    if (ntags == 0) out.append({'I', 0, 0, 0, 4});
    out.append({'Z', 0, 0, 0, 5, 'I'});
    co_return out;
}

}  // namespace sg::proxy
