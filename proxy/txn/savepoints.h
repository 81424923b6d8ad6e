// The savepoints of a transaction spanning shards (protocol logic, no I/O). A shard that joins
// the transaction late gets the open savepoints replayed after its BEGIN, so ROLLBACK TO and
// RELEASE apply on every participant alike (on a late joiner, ROLLBACK TO an earlier
// savepoint undoes all its work, as it should).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sg::proxy::txn {

struct SavepointCommand {
    enum class Kind { Savepoint, Release, RollbackTo };
    Kind kind = Kind::Savepoint;
    std::string name;  // as PostgreSQL folds it: lower case unless double-quoted
};

// SAVEPOINT n | RELEASE [SAVEPOINT] n | ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] n; nullopt
// for anything else.
std::optional<SavepointCommand> parse_savepoint(std::string_view sql);

class Savepoints {
public:
    // Applies a command to the list of open savepoints (PostgreSQL's rules: RELEASE drops the
    // named one and every later one, ROLLBACK TO keeps the named one and drops later ones; the
    // most recent of duplicate names is meant).
    void apply(const SavepointCommand& c);
    // SQL that recreates the open savepoints on a newly joined shard ("" when none).
    std::string replay() const;
    void clear() { open_.clear(); }
    const std::vector<std::string>& open() const { return open_; }

private:
    std::vector<std::string> open_;
};

// A name quoted for SQL.
std::string quote_ident(std::string_view name);

}  // namespace sg::proxy::txn
