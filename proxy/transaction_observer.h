// What the settings tracker (proxy/settings_tracker.h) learns about a client's transaction,
// told to state the proxy itself keeps with transaction semantics: LISTEN / UNLISTEN inside a
// transaction block (proxy/notify/listen_txn.h), which PostgreSQL applies only at COMMIT.
//
// Savepoints are named by depth: the number of savepoints open. A change made at depth d was
// made after the d-th savepoint was set; ROLLBACK TO the savepoint at index i (depth i + 1
// afterwards) undoes the changes made at depth >= i + 1; RELEASE of it (depth i afterwards)
// hands them to the enclosing level.
#pragma once

#include <cstddef>

namespace sg::proxy {

class TransactionObserver {
public:
    virtual ~TransactionObserver() = default;
    // ROLLBACK TO SAVEPOINT: `depth` savepoints remain open (the one rolled back to included).
    virtual void rolled_back_to(size_t depth) = 0;
    // RELEASE SAVEPOINT: `depth` savepoints remain open.
    virtual void released(size_t depth) = 0;
    // The transaction ended: committed (the server confirmed the COMMIT) or not (ROLLBACK, a
    // COMMIT of a failed transaction, a COMMIT that failed, a lost server connection).
    virtual void ended(bool committed) = 0;
};

}  // namespace sg::proxy
