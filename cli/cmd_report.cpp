#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/report.h"
#include "proxy/stats/report.h"

namespace sg::cli {

namespace {

struct PGconnCloser {
    void operator()(PGconn* c) const { PQfinish(c); }
};
struct PGresultCloser {
    void operator()(PGresult* r) const { PQclear(r); }
};

// One console command as a Table, or false after saying on stderr why not.
bool fetch(PGconn* conn, const char* command, stats::Table& out) {
    std::unique_ptr<PGresult, PGresultCloser> res(PQexec(conn, command));
    if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
        std::cerr << "shardgate report: " << command
                  << " failed: " << PQresultErrorMessage(res.get());
        return false;
    }
    const int cols = PQnfields(res.get()), rows = PQntuples(res.get());
    for (int c = 0; c < cols; ++c) out.columns.emplace_back(PQfname(res.get(), c));
    for (int r = 0; r < rows; ++r) {
        std::vector<std::string> row;
        for (int c = 0; c < cols; ++c)
            row.emplace_back(PQgetvalue(res.get(), r, c),
                             static_cast<size_t>(PQgetlength(res.get(), r, c)));
        out.rows.push_back(std::move(row));
    }
    return true;
}

// "90s", "10m", "2h" or plain seconds -> seconds; 0 when not a positive duration.
long parse_duration(const std::string& s) {
    if (s.empty()) return 0;
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (end == s.c_str() || v <= 0) return 0;
    const std::string unit(end);
    if (unit.empty() || unit == "s") return v;
    if (unit == "m" || unit == "min") return v * 60;
    if (unit == "h") return v * 3600;
    return 0;
}

}  // namespace

int run_report(const std::string& admin_dsn, const std::string& format, int top, bool include_held,
               const std::string& since, const std::string& window) {
    const long since_s = parse_duration(since), window_s = parse_duration(window);
    if ((!since.empty() && since_s == 0) || (!window.empty() && window_s == 0)) {
        std::cerr
            << "shardgate report: --since and --window take a duration such as 90s, 10m or 2h\n";
        return 2;
    }
    if (since_s && window_s) {
        std::cerr << "shardgate report: give --since (one window) or --window (compared with the "
                     "one before), "
                     "not both\n";
        return 2;
    }
    if (format != "text" && format != "json" && format != "html") {
        std::cerr << "shardgate report: --format must be text, json or html, not '" << format
                  << "'\n";
        return 2;
    }
    if (top < 1) {
        std::cerr << "shardgate report: --top must be at least 1\n";
        return 2;
    }
    std::unique_ptr<PGconn, PGconnCloser> conn(PQconnectdb(admin_dsn.c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        std::cerr << "shardgate report: cannot connect to the admin console: "
                  << PQerrorMessage(conn.get());
        return 1;
    }
    stats::report::Inputs in;
    in.top = top;
    in.include_held = include_held;
    if (!fetch(conn.get(), "SHOW STATS_PERIOD", in.period) ||
        !fetch(conn.get(), "SHOW WINDOWS", in.windows) ||
        !fetch(conn.get(), "SHOW NPLUSONE", in.nplusone) ||
        !fetch(conn.get(), "SHOW SLOW", in.slow) ||
        !fetch(conn.get(), "SHOW SHARD STATS", in.shard_stats) ||
        !fetch(conn.get(), "SHOW REFUSALS", in.refusals))
        return 1;
    if (const long seconds = since_s ? since_s : window_s; seconds) {
        // A window is a whole number of the proxy's intervals, rounded up.
        long width = 60;
        if (!in.period.rows.empty())
            for (size_t c = 0; c < in.period.columns.size(); ++c)
                if (in.period.columns[c] == "window_seconds")
                    width = std::max(1L, std::atol(in.period.rows[0][c].c_str()));
        const long n = (seconds + width - 1) / width;
        in.scope = "the last " + (since_s ? since : window);
        if (!fetch(conn.get(), ("SHOW WINDOW " + std::to_string(n)).c_str(), in.queries)) return 1;
        if (window_s &&
            !fetch(conn.get(),
                   ("SHOW WINDOW " + std::to_string(n) + " OFFSET " + std::to_string(n)).c_str(),
                   in.previous))
            return 1;
    } else if (!fetch(conn.get(), "SHOW QUERIES", in.queries)) {
        return 1;
    }
    const auto report = stats::report::build(in);
    if (format == "json")
        std::cout << stats::report::render_json(report);
    else if (format == "html")
        std::cout << stats::report::render_html(report);
    else
        std::cout << stats::report::render_text(report);
    std::cout.flush();
    return std::cout ? 0 : 1;
}

}  // namespace sg::cli
