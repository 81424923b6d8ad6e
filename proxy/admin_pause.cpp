#include "proxy/admin_pause.h"

#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

#include "common/sqlstate.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

namespace sg::proxy {

namespace {

using std::chrono::milliseconds;

AdminReply fail(std::string sqlstate, std::string message) {
    AdminReply r;
    r.sqlstate = std::move(sqlstate);
    r.message = std::move(message);
    return r;
}

AdminReply tag_only(std::string tag) {
    AdminReply r;
    r.table.command_tag = std::move(tag);
    return r;
}

// Splits "SPEC KEY n KEY n" into SPEC and the numeric options among `keys`.
struct Options {
    std::string spec;
    std::map<std::string, long> values;
};

bool parse_options(const std::string& args, std::initializer_list<const char*> keys, Options& out,
                   std::string& why) {
    std::istringstream in(args);
    std::string word;
    bool in_spec = true;
    while (in >> word) {
        bool is_key = false;
        for (const char* k : keys) is_key = is_key || word == k;
        if (!is_key) {
            if (!in_spec) {
                why = fmt::format("unexpected \"{}\"", word);
                return false;
            }
            out.spec += (out.spec.empty() ? "" : " ") + word;
            continue;
        }
        in_spec = false;
        std::string num;
        char* end = nullptr;
        long v = (in >> num) ? std::strtol(num.c_str(), &end, 10) : 0;
        if (num.empty() || *end != '\0' || v <= 0) {
            why = fmt::format("{} takes a positive number", word);
            return false;
        }
        if (out.values.count(word)) {
            why = fmt::format("{} given twice", word);
            return false;
        }
        out.values[word] = v;
    }
    return true;
}

// The lease asked for (TIMEOUT), bounded by [proxy] max_pause_ms.
bool lease_of(const Proxy& p, const Options& o, milliseconds& lease, std::string& why) {
    const int bound = p.config().proxy.max_pause_ms;
    auto it = o.values.find("TIMEOUT");
    long ms = it == o.values.end() ? bound : it->second;
    if (ms > bound) {
        why = fmt::format(
            "TIMEOUT {} ms is longer than [proxy] max_pause_ms = {}: no client may be held that "
            "long "
            "(raise max_pause_ms to allow it)",
            ms, bound);
        return false;
    }
    lease = milliseconds(ms);
    return true;
}

std::string owner_of(Session& self) {
    auto app = self.startup_parameters().find("application_name");
    std::string who = fmt::format("{}@{}", self.user(), self.peer());
    if (app != self.startup_parameters().end() && !app->second.empty())
        return app->second + " (" + who + ")";
    return who;
}

AdminReply id_row(uint64_t id, milliseconds lease, std::string tag) {
    AdminReply r;
    r.table.columns = {"id", "lease_ms"};
    r.table.rows.push_back({std::to_string(id), std::to_string(lease.count())});
    r.table.command_tag = std::move(tag);
    return r;
}

// The answer to RESUME/RENEW naming a pause that is not in force.
AdminReply not_held(const char* what, uint64_t id, LeaseCheck c) {
    switch (c) {
        case LeaseCheck::Lapsed:
            return fail(
                sqlstate::kObjectNotInPrerequisiteState,
                fmt::format(
                    "{}: pause {} lapsed (its lease ran out without a renewal) and was lifted; "
                    "clients ran meanwhile, so whatever needed it must start over",
                    what, id));
        case LeaseCheck::Ended:
            return fail(
                sqlstate::kObjectNotInPrerequisiteState,
                fmt::format(
                    "{}: pause {} is no longer in force (resumed, or replaced by another pause)",
                    what, id));
        default:
            return fail(sqlstate::kObjectNotInPrerequisiteState,
                        fmt::format("{}: there is no pause {} on this proxy", what, id));
    }
}

template <typename Pred>
net::awaitable<bool> drain(Proxy& p, milliseconds bound, milliseconds step, Pred busy) {
    net::asio::steady_timer t(p.io());
    const auto deadline = net::Clock::now() + bound;
    while (busy() && net::Clock::now() < deadline) {
        t.expires_after(step);
        boost::system::error_code ec;
        co_await t.async_wait(net::ec_token(ec));
    }
    co_return !busy();
}

}  // namespace

bool parse_bucket_runs(const std::string& spec, uint32_t bucket_count,
                       std::vector<std::pair<uint32_t, uint32_t>>& ranges, std::string& why) {
    size_t pos = 0;
    while (pos < spec.size()) {
        size_t comma = spec.find(',', pos);
        std::string part =
            spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? spec.size() : comma + 1;
        unsigned long a = 0, b = 0;
        char dash = 0;
        int n = std::sscanf(part.c_str(), " %lu %c %lu", &a, &dash, &b);
        if (n == 1)
            b = a;
        else if (n != 3 || dash != '-') {
            why = "expected bucket ranges like 10-20,35-35";
            return false;
        }
        if (a > b || b >= bucket_count) {
            why = fmt::format("bucket range {}-{} is outside 0-{}", a, b, bucket_count - 1);
            return false;
        }
        ranges.emplace_back(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
    }
    if (ranges.empty()) {
        why = "no buckets given";
        return false;
    }
    return true;
}

net::awaitable<AdminReply> admin_pause(Proxy& p, Session& self, const std::string& args) {
    Options o;
    std::string why;
    milliseconds lease{};
    if (!parse_options(args, {"TIMEOUT"}, o, why) || !o.spec.empty() || !lease_of(p, o, lease, why))
        co_return fail(
            sqlstate::kSyntaxError,
            "PAUSE [TIMEOUT ms]: " + (why.empty() ? "unexpected \"" + o.spec + "\"" : why));
    const uint64_t id = p.pauses().pause_proxy(owner_of(self), lease);
    // Returns once no client is inside a transaction (new ones wait at their next request).
    const milliseconds bound =
        std::min<milliseconds>(lease, std::chrono::seconds(p.config().proxy.shutdown_timeout_s));
    const bool drained =
        co_await drain(p, bound, milliseconds(10), [&] { return p.active_sessions() > 0; });
    if (!drained) {
        const int busy = p.active_sessions();
        p.pauses().resume_proxy(id);
        co_return fail(
            sqlstate::kQueryCanceled,
            fmt::format("PAUSE gave up: {} client(s) still in a transaction after {} ms; resumed",
                        busy, bound.count()));
    }
    if (p.pauses().proxy_lease().check(id) != LeaseCheck::Held)
        co_return not_held("PAUSE", id, p.pauses().proxy_lease().check(id));
    co_return id_row(id, lease, "PAUSE");
}

AdminReply admin_resume(Proxy& p, const std::string& args) {
    Options o;
    std::string why;
    if (!parse_options(args, {"ID"}, o, why) || !o.spec.empty())
        return fail(sqlstate::kSyntaxError,
                    "RESUME [ID n]: " + (why.empty() ? "unexpected \"" + o.spec + "\"" : why));
    const uint64_t id = o.values.count("ID") ? uint64_t(o.values["ID"]) : 0;
    LeaseCheck c = p.pauses().resume_proxy(id);
    if (id != 0 && c != LeaseCheck::Held) return not_held("RESUME", id, c);
    return tag_only("RESUME");
}

net::awaitable<AdminReply> admin_pause_buckets(Proxy& p, Session& self, const std::string& args) {
    Options o;
    std::string why;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    milliseconds lease{};
    if (!parse_options(args, {"TIMEOUT", "DRAIN"}, o, why) || !lease_of(p, o, lease, why) ||
        !parse_bucket_runs(o.spec, p.shard_map().bucket_count(), ranges, why))
        co_return fail(sqlstate::kSyntaxError,
                       "PAUSE BUCKETS a-b[,c-d] [TIMEOUT ms] [DRAIN ms]: " + why);
    milliseconds drain_bound = std::min(lease, milliseconds(1000));
    if (auto it = o.values.find("DRAIN"); it != o.values.end())
        drain_bound = std::min(lease, milliseconds(it->second));
    const uint64_t id =
        p.pauses().pause_buckets(ranges, p.shard_map().bucket_count(), owner_of(self), lease);
    // Wait until no open transaction has touched a paused bucket; new statements already wait.
    const bool drained = co_await drain(p, drain_bound, milliseconds(1),
                                        [&] { return p.sessions_touching_paused() > 0; });
    if (!drained) {
        const int busy = p.sessions_touching_paused();
        p.pauses().resume_buckets(id);
        co_return fail(
            sqlstate::kQueryCanceled,
            fmt::format("PAUSE BUCKETS gave up after {} ms: {} transaction(s) still hold those "
                        "buckets; nothing is paused",
                        drain_bound.count(), busy));
    }
    if (p.pauses().bucket_lease().check(id) != LeaseCheck::Held)
        co_return not_held("PAUSE BUCKETS", id, p.pauses().bucket_lease().check(id));
    co_return id_row(id, lease, "PAUSE BUCKETS");
}

AdminReply admin_resume_buckets(Proxy& p, const std::string& args) {
    Options o;
    std::string why;
    if (!parse_options(args, {"ID"}, o, why) || !o.spec.empty())
        return fail(
            sqlstate::kSyntaxError,
            "RESUME BUCKETS [ID n]: " + (why.empty() ? "unexpected \"" + o.spec + "\"" : why));
    const uint64_t id = o.values.count("ID") ? uint64_t(o.values["ID"]) : 0;
    LeaseCheck c = p.pauses().resume_buckets(id);
    if (id != 0 && c != LeaseCheck::Held) return not_held("RESUME BUCKETS", id, c);
    return tag_only("RESUME BUCKETS");
}

AdminReply admin_renew(Proxy& p, const std::string& args) {
    Options o;
    std::string why;
    if (!parse_options(args, {"ID"}, o, why) || (o.spec != "PAUSE" && o.spec != "BUCKETS") ||
        !o.values.count("ID"))
        return fail(sqlstate::kSyntaxError,
                    "RENEW PAUSE ID n | RENEW BUCKETS ID n" + (why.empty() ? "" : ": " + why));
    const uint64_t id = uint64_t(o.values["ID"]);
    const bool buckets = o.spec == "BUCKETS";
    LeaseCheck c = buckets ? p.pauses().renew_buckets(id) : p.pauses().renew_proxy(id);
    if (c != LeaseCheck::Held) return not_held("RENEW", id, c);
    const auto& h = (buckets ? p.pauses().bucket_lease() : p.pauses().proxy_lease()).held();
    return id_row(id, h->lease, "RENEW");
}

AdminReply admin_show_pauses(Proxy& p) {
    AdminReply r;
    r.table.columns = {"kind",      "id",       "owner",         "buckets",  "since",
                       "paused_ms", "lease_ms", "expires_in_ms", "renewals", "held_clients"};
    const auto now = net::Clock::now();
    const auto wall = std::chrono::system_clock::now();
    auto ms = [](auto d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
    for (const auto& v : p.pauses().views()) {
        const std::time_t t = std::chrono::system_clock::to_time_t(
            wall -
            std::chrono::duration_cast<std::chrono::system_clock::duration>(now - v.lease.since));
        std::tm tm{};
        gmtime_r(&t, &tm);
        char since[32];
        std::strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S UTC", &tm);
        int held = 0;
        for (const auto& [pid, s] : p.sessions())
            if (s->paused_hold() && s->paused_hold()->pause_id == v.lease.id) ++held;
        r.table.rows.push_back({to_string(v.kind), std::to_string(v.lease.id), v.lease.owner,
                                v.buckets, since, std::to_string(ms(now - v.lease.since)),
                                std::to_string(v.lease.lease.count()),
                                std::to_string(std::max<int64_t>(0, ms(v.lease.expires - now))),
                                std::to_string(v.lease.renewals), std::to_string(held)});
    }
    return r;
}

}  // namespace sg::proxy
