#include "rebalance/pg_timed.h"

#include <fmt/format.h>
#include <poll.h>

#include <cerrno>

namespace sg::rebalance {

namespace {

using Clock = std::chrono::steady_clock;

std::string libpq_error(PGconn* c) {
    std::string m = PQerrorMessage(c);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

}  // namespace

Expected<Result> exec_timed(PGconn* c, const std::string& label, const std::string& sql,
                            std::chrono::milliseconds bound) {
    if (PQsendQuery(c, sql.c_str()) != 1)
        return Error{kNoAnswer, fmt::format("{}: cannot send: {}", label, libpq_error(c))};
    const auto deadline = Clock::now() + bound;
    // PQexec semantics: the last result of the statement, errors taking precedence.
    Result last;
    Expected<Result> failed = Error{};
    bool have_error = false;
    for (;;) {
        while (PQisBusy(c) == 0) {
            PGresult* raw = PQgetResult(c);
            if (!raw) {
                if (have_error) return failed;
                if (!last) return Error{kNoAnswer, label + ": no result"};
                return last;
            }
            Result r(raw);
            switch (PQresultStatus(raw)) {
                case PGRES_COMMAND_OK:
                case PGRES_TUPLES_OK:
                    last = std::move(r);
                    break;
                default:
                    if (!have_error) {
                        const char* st = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
                        std::string msg = PQresultErrorMessage(raw);
                        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
                            msg.pop_back();
                        failed = Error{st ? st : kNoAnswer, label + ": " + msg};
                        have_error = true;
                    }
            }
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return Error{kNoAnswer,
                         fmt::format("{}: no answer within {} ms", label, bound.count())};
        pollfd pfd{PQsocket(c), POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR)
            return Error{kNoAnswer, fmt::format("{}: poll failed: {}", label, errno)};
        if (n > 0 && PQconsumeInput(c) != 1)
            return Error{kNoAnswer, fmt::format("{}: {}", label, libpq_error(c))};
    }
}

}  // namespace sg::rebalance
