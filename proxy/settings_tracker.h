// A client's session settings as PostgreSQL itself would hold them, for a client whose
// statements run on pooled server connections (protocol logic, no I/O).
//
// Invariants:
//  - a SET / RESET counts only once the server accepted it: it is recorded at its
//    ReadyForQuery, and not at all when an ErrorResponse came before that;
//  - transaction semantics: a SET inside a transaction that rolls back (or inside a savepoint
//    rolled back to) is undone; SET LOCAL is never tracked (the server holds it for the
//    transaction, which stays on one server connection);
//  - outside a transaction current() == committed();
//  - the server's record of what it carries (ServerConn::applied_settings) follows what the
//    server really has after each ReadyForQuery; when that cannot be known it is marked
//    unknown (kUnknownSettings), so the next sync resets the server before re-applying.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/session_settings.h"
#include "proxy/transaction_observer.h"

namespace sg::proxy {

// How a statement text changes the transaction (what the tracker needs to know).
struct TransactionControl {
    enum Kind { None, Savepoint, RollbackTo, Release, Commit, Rollback } kind = None;
    std::string savepoint;  // lower-cased unless quoted
};
// COMMIT / END / PREPARE TRANSACTION (Commit: the transaction's settings stay), ROLLBACK /
// ABORT, SAVEPOINT x, ROLLBACK TO [SAVEPOINT] x, RELEASE [SAVEPOINT] x; None otherwise.
TransactionControl parse_transaction_control(std::string_view sql);

class SettingsTracker {
public:
    using Settings = std::map<std::string, std::string>;  // name -> statement setting it

    // A startup parameter: part of the session's settings and what RESET returns to.
    void add_startup(const std::string& name, const std::string& statement);

    // What a server must carry for this client now.
    const Settings& current() const { return current_; }
    const Settings& committed() const { return committed_; }

    // A simple query `sql` was sent to a server with `ahead` client-visible ReadyForQuery
    // messages still to come before its own; `in_transaction`: the client's transaction was
    // open (or held back by the proxy, and sent with it) when it was sent.
    void sent(std::string_view sql, int ahead, bool in_transaction);
    // The same for an extended-protocol batch ending with Sync: the texts of the statements
    // it executes, in order (the batch is one implicit transaction: an error anywhere in it
    // means none of its SETs took).
    // `observed`: the observer holds changes of this request's (an UNLISTEN among the statements
    // of one query): outside a transaction block it is told ended(succeeded) at its
    // ReadyForQuery.
    void sent_batch(const std::vector<std::string_view>& texts, int ahead, bool in_transaction,
                    bool observed = false);
    // A client-visible ReadyForQuery with `status`; `failed`: its request got an ErrorResponse.
    // `applied` is that server's record of what it carries.
    void ready(char status, bool failed, Settings& applied);
    // The requests sent are gone unanswered (the server connection was lost).
    void lost();
    // A setting a server refused when the proxy re-applied it: the session no longer has it.
    void drop(const std::string& name);

    // Told what the client's transactions do (null: nobody); must outlive its use here.
    void set_observer(TransactionObserver* observer) { observer_ = observer; }
    // The savepoints open in the client's transaction (see transaction_observer.h).
    size_t savepoint_depth() const { return savepoints_.size(); }

private:
    struct Step {
        std::optional<SettingChange> change;
        TransactionControl control;
    };
    struct Pending {
        uint64_t at = 0;  // the number of the ReadyForQuery that ends it
        std::vector<Step> steps;
        bool in_transaction = false;
        bool untracked = false;  // a multi-statement text that may change settings
        bool observed = false;   // see sent_batch
    };
    // The step `sql` is, if it is one (a setting or transaction control).
    static std::optional<Step> step_of(std::string_view sql);
    void apply(const SettingChange& ch, Settings& applied);
    void roll_back(Settings& applied);

    Settings startup_, current_, committed_;
    std::vector<std::pair<std::string, Settings>> savepoints_;  // name, settings when it was set
    std::deque<Pending> pending_;
    TransactionObserver* observer_ = nullptr;
    uint64_t readies_ = 0;  // ReadyForQuery messages seen
    bool open_ = false;     // the last status was T or E
    bool aborted_ = false;  // the last status was E
    // Settings may have changed in ways not tracked (`SET a = 1; SELECT ...`): once the
    // transaction is over, the server is reset before its next use, so nothing leaks to the
    // clients that share it next (the client loses that untracked setting, as documented).
    bool untracked_ = false;
};

}  // namespace sg::proxy
