#include "proxy/stats/refusals.h"

#include <algorithm>
#include <array>

namespace sg::stats {

namespace {

struct Rule {
    std::string_view phrase;  // found anywhere in the message
    std::string_view construct;
    std::string_view way_around;
};

// Most specific first: the first rule whose phrase the message contains wins.
constexpr std::array kRules{
    Rule{"a transaction cannot span shards", "transaction across shards",
         "keep each transaction's statements on one shard key, or run the multi-shard statement "
         "outside the "
         "transaction"},
    Rule{"UPDATE of shard key", "UPDATE of the shard key",
         "DELETE the row and INSERT it again with the new key, in two statements"},
    Rule{"ON CONFLICT DO UPDATE", "ON CONFLICT DO UPDATE of the shard key",
         "leave the shard key out of the SET list (set it only to excluded.<key>)"},
    Rule{"INSERT ... SELECT", "INSERT ... SELECT across shards",
         "SELECT the rows first and INSERT them with VALUES, or select a co-located table's shard "
         "key"},
    Rule{"INSERT reads sharded table", "INSERT ... SELECT across shards",
         "SELECT the rows first and INSERT them with VALUES"},
    Rule{"must use VALUES", "INSERT without VALUES into a sharded table",
         "use INSERT ... VALUES with the shard key"},
    Rule{"subquery or CTE", "subquery or CTE across shards",
         "give the subquery its own shard-key condition, or join it on the shard key in the main "
         "FROM"},
    Rule{"join of sharded tables", "join not on the shard keys",
         "join sharded tables on their shard keys (co-located), or fetch one side first"},
    Rule{"different key types", "tables sharded on different key types",
         "shard tables that are joined on keys of one type"},
    Rule{"lives only on the default shard", "sharded table with an unlisted table",
         "declare the other table in [[tables]] (sharded or reference), or query it separately"},
    Rule{"is not in [[tables]]", "sharded table with an unlisted table",
         "declare the other table in [[tables]] (sharded or reference), or query it separately"},
    Rule{"SELECT INTO", "SELECT INTO from a sharded table",
         "CREATE the table, then INSERT into it"},
    Rule{"reference table", "write to a reference table reading other tables",
         "compute the values first, then write them as constants"},
    Rule{"server-side file or program", "COPY with a server file or program",
         "use COPY ... FROM STDIN / TO STDOUT"},
    Rule{"comes in a binary format", "combining binary results across shards",
         "ask for text results (result format 0), or restrict it to one shard key"},
    Rule{"COPY FROM STDIN in binary format", "COPY in binary format into a sharded table",
         "use COPY in text or CSV format"},
    Rule{"COPY", "COPY into a sharded table without its columns",
         "list the columns, the shard key among them: COPY t (id, ...) FROM STDIN"},
    Rule{"CREATE TABLE AS / CREATE VIEW", "CREATE TABLE AS / VIEW over a sharded table",
         "CREATE the table, then INSERT ... VALUES into it; query views on each shard"},
    Rule{"SQL PREPARE", "SQL PREPARE on a sharded table",
         "use the extended protocol (driver-side prepared statements)"},
    Rule{"read whole", "partial Execute of a statement combined across shards",
         "Execute it without a row limit (no cursor fetch size), or restrict it to one shard key"},
    Rule{"must be alone before its Sync", "multi-shard statement in a pipelined batch",
         "send the statement alone before its Sync, or restrict it to one shard key"},
    Rule{"multi-statement query", "multi-statement query across shards",
         "send the statements separately"},
    Rule{"must be sent on its own", "multi-statement query across shards",
         "send the statements separately"},
};

// "... needs 2 shards and uses ORDER BY, which ..." -> "ORDER BY across shards".
std::string fanout_construct(std::string_view m) {
    constexpr std::string_view kUses = " and uses ";
    const size_t at = m.find(kUses);
    if (at == std::string_view::npos) return {};
    std::string_view rest = m.substr(at + kUses.size());
    rest = rest.substr(0, rest.find(", which"));
    return std::string(rest) + " across shards";
}

// The first words of an unknown message, up to its first ':' or ';' (at most 60 characters).
std::string first_words(std::string_view m) {
    m = m.substr(0, m.find_first_of(":;"));
    if (m.size() > 60) {
        m = m.substr(0, 60);
        if (auto sp = m.rfind(' '); sp != std::string_view::npos && sp > 20) m = m.substr(0, sp);
    }
    return std::string(m);
}

}  // namespace

RefusalKind classify_refusal(std::string_view message) {
    if (std::string c = fanout_construct(message); !c.empty())
        return {std::move(c),
                "add a shard-key condition so it runs on one shard, or a form the proxy combines "
                "(see the refusal's message)"};
    for (const auto& r : kRules)
        if (message.find(r.phrase) != std::string_view::npos)
            return {std::string(r.construct), std::string(r.way_around)};
    return {first_words(message), "see the refusal's message for the rewrite"};
}

void RefusalLog::evict_oldest() {
    auto oldest =
        std::min_element(rows_.begin(), rows_.end(),
                         [](const RefusalRow& a, const RefusalRow& b) { return a.seq < b.seq; });
    if (oldest != rows_.end()) rows_.erase(oldest);
}

void RefusalLog::set_max_rows(size_t n) {
    max_rows_ = std::max<size_t>(n, 1);
    while (rows_.size() > max_rows_) evict_oldest();
}

void RefusalLog::record(const std::shared_ptr<const Shape>& shape, std::string_view user,
                        std::string_view database, std::string_view message) {
    RefusalKind kind = classify_refusal(message);
    ++by_construct_[kind.construct];
    const auto now = std::chrono::system_clock::now();
    for (auto& r : rows_) {
        if (r.shape->fingerprint == shape->fingerprint && r.construct == kind.construct &&
            r.user == user && r.database == database) {
            ++r.count;
            r.last = now;
            r.seq = ++seq_;
            r.message.assign(message);
            return;
        }
    }
    while (rows_.size() >= max_rows_) evict_oldest();
    rows_.push_back(RefusalRow{shape, std::string(user), std::string(database),
                               std::move(kind.construct), std::move(kind.way_around),
                               std::string(message), 1, now, now, ++seq_});
}

}  // namespace sg::stats
