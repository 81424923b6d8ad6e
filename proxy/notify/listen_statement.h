// LISTEN / UNLISTEN / DISCARD ALL recognised from a statement's text (protocol logic, no I/O).
//
// In transaction pooling the proxy answers LISTEN and UNLISTEN itself (proxy/notify): it must
// know the exact channel name PostgreSQL would use. A channel is an identifier: folded to
// lower case unless double-quoted ("" inside quotes stands for one quote), then truncated to
// NAMEDATALEN - 1 = 63 bytes on a character boundary, with PostgreSQL's NOTICE (42622).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sg::proxy::notify {

inline constexpr size_t kMaxChannelBytes = 63;  // NAMEDATALEN - 1

struct ListenStatement {
    enum Kind { Listen, Unlisten, UnlistenAll } kind = Listen;
    std::string channel;    // folded and truncated; empty for UnlistenAll
    std::string truncated;  // when truncation happened: the channel name as written (folded)
};

// The one LISTEN ch / UNLISTEN ch / UNLISTEN * that `sql` consists of (whitespace, comments
// and one trailing ';' allowed), or nullopt when `sql` is anything else (another statement,
// several statements, a syntax error).
std::optional<ListenStatement> parse_listen_statement(std::string_view sql);

// Without allocating (every extended batch in transaction pooling asks): whether the first
// message of `batch` after any Close messages is a Parse whose query starts with LISTEN or
// UNLISTEN.
bool first_parse_listens(std::string_view batch);
// Whether `query` starts (past whitespace and comments) with the word LISTEN or UNLISTEN.
bool starts_with_listen(std::string_view query);

// Whether `sql` is exactly one DISCARD ALL (which unlistens everything, as in PostgreSQL).
bool is_discard_all(std::string_view sql);

// Whether `sql` starts with PREPARE TRANSACTION.
bool is_prepare_transaction(std::string_view sql);

// PostgreSQL's NOTICE text for an identifier truncated to `to`.
std::string truncation_notice(const ListenStatement& st);

}  // namespace sg::proxy::notify
