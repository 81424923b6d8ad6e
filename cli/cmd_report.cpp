#include <libpq-fe.h>

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

}  // namespace

int run_report(const std::string& admin_dsn, const std::string& format, int top) {
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
    stats::Table queries, nplusone, slow;
    if (!fetch(conn.get(), "SHOW QUERIES", queries) ||
        !fetch(conn.get(), "SHOW NPLUSONE", nplusone) || !fetch(conn.get(), "SHOW SLOW", slow))
        return 1;
    const auto report = stats::report::build(queries, nplusone, slow, top);
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
