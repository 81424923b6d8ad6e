#include "proxy/txn/policy.h"
#include "common/sqlstate.h"

#include <fmt/format.h>

#include <cctype>
#include <vector>

namespace sg::proxy::txn {

namespace {

// Upper-cased words of `sql` outside quotes and comments (enough to spot the statements that
// refuse a transaction block).
std::vector<std::string> words(std::string_view sql) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        if (!cur.empty()) out.push_back(std::move(cur));
        cur.clear();
    };
    for (size_t i = 0; i < sql.size(); ++i) {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            flush();
            size_t j = sql.find(c, i + 1);
            i = j == std::string_view::npos ? sql.size() : j;
        } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            flush();
            size_t j = sql.find('\n', i);
            i = j == std::string_view::npos ? sql.size() : j;
        } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            flush();
            size_t j = sql.find("*/", i + 2);
            i = j == std::string_view::npos ? sql.size() : j + 1;
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
            cur += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        } else {
            flush();
        }
    }
    flush();
    return out;
}

}  // namespace

bool atomic_writes(const Config& cfg) {
    return cfg.transactions.two_phase_commit;
}

bool atomic_statement(const Config& cfg, bool is_write, std::string_view sql) {
    if (!is_write || !atomic_writes(cfg)) return false;
    auto w = words(sql);
    if (w.empty()) return false;
    if (w[0] == "VACUUM" || w[0] == "CLUSTER" || w[0] == "REINDEX" || w[0] == "CHECKPOINT")
        return false;
    // PREPARE TRANSACTION refuses a transaction that touched temporary objects.
    for (size_t i = 0; i < w.size() && i < 3; ++i)
        if (w[i] == "TEMP" || w[i] == "TEMPORARY") return false;
    for (size_t i = 0; i < w.size(); ++i) {
        if (w[i] == "CONCURRENTLY") return false;
        if (i + 1 < w.size() && (w[i] == "CREATE" || w[i] == "DROP" || w[i] == "ALTER") &&
            (w[i + 1] == "DATABASE" || w[i + 1] == "TABLESPACE" || w[i + 1] == "SYSTEM" ||
             w[i + 1] == "SUBSCRIPTION"))
            return false;
    }
    return true;
}

std::optional<Refusal> participants_refusal(const Config& cfg, size_t participants) {
    int max = cfg.transactions.max_participants;
    if (max <= 0 || participants <= static_cast<size_t>(max)) return std::nullopt;
    return Refusal{
        sqlstate::kFeatureNotSupported,
        fmt::format("this write spans {} shards, more than [transactions] max_participants = {}",
                    participants, max)};
}

}  // namespace sg::proxy::txn
