#include "proxy/settings_tracker.h"

#include <gtest/gtest.h>

#include "proxy/session_settings.h"
#include "proxy/session_state.h"

namespace sg::proxy {
namespace {

using Settings = SettingsTracker::Settings;

// One client on one server: each statement is answered before the next is sent.
struct Client {
    SettingsTracker t;
    Settings applied;
    char status = 'I';
    // Sends `sql`; the server answers with `after` (its ReadyForQuery status), failing or not.
    void run(std::string_view sql, char after, bool failed = false) {
        t.sent(sql, 0, status != 'I');
        t.ready(after, failed, applied);
        status = after;
    }
    std::string value(const std::string& name) const {
        auto it = t.current().find(name);
        return it == t.current().end() ? std::string() : it->second;
    }
};

TEST(SettingsTracker, RecordsASetOnlyOnceTheServerAcceptedIt) {
    Client c;
    c.run("SET TIME ZONE 'bogus'", 'I', /*failed=*/true);
    EXPECT_TRUE(c.t.current().empty());
    EXPECT_TRUE(c.applied.empty());
    c.run("SET TIME ZONE 'UTC'", 'I');
    EXPECT_EQ(c.value("timezone"), "SET TIME ZONE 'UTC'");
    EXPECT_EQ(c.applied, c.t.current());
    EXPECT_EQ(c.t.committed(), c.t.current());
}

TEST(SettingsTracker, PipelinedRequestsEachGetTheirOwnReadyForQuery) {
    SettingsTracker t;
    Settings applied;
    t.sent("SELECT 1", 0, false);
    t.sent("SET work_mem = '2MB'", 1, false);  // one ReadyForQuery ahead of it
    t.ready('I', /*failed=*/true, applied);    // the SELECT failed: not the SET
    EXPECT_TRUE(t.current().empty());
    t.ready('I', false, applied);
    EXPECT_EQ(t.current().at("work_mem"), "SET work_mem TO '2MB'");
}

TEST(SettingsTracker, SetInsideARolledBackTransactionIsUndone) {
    Client c;
    c.run("SET work_mem = '1MB'", 'I');
    c.run("BEGIN", 'T');
    c.run("SET work_mem = '2MB'", 'T');
    EXPECT_EQ(c.value("work_mem"), "SET work_mem TO '2MB'");
    c.run("ROLLBACK", 'I');
    EXPECT_EQ(c.value("work_mem"), "SET work_mem TO '1MB'");
    EXPECT_EQ(c.applied, c.t.current());  // the server undid it too
}

TEST(SettingsTracker, CommitKeepsItAndCommitOfAFailedTransactionRollsBack) {
    Client c;
    c.run("BEGIN", 'T');
    c.run("SET work_mem = '2MB'", 'T');
    c.run("COMMIT", 'I');
    EXPECT_EQ(c.value("work_mem"), "SET work_mem TO '2MB'");
    c.run("BEGIN", 'T');
    c.run("SET work_mem = '3MB'", 'T');
    c.run("SELECT 1/0", 'E', true);
    c.run("COMMIT", 'I');  // answered ROLLBACK by PostgreSQL
    EXPECT_EQ(c.value("work_mem"), "SET work_mem TO '2MB'");
}

TEST(SettingsTracker, HeldBackBeginCountsAsAnOpenTransaction) {
    // BEGIN held by the proxy, sent together with the SET: the ReadyForQuery says T.
    Client c;
    c.t.sent("SET work_mem = '2MB'", 0, /*in_transaction=*/true);
    c.t.ready('T', false, c.applied);
    c.status = 'T';
    c.run("ROLLBACK", 'I');
    EXPECT_TRUE(c.t.current().empty());
}

TEST(SettingsTracker, SetLocalIsNotTracked) {
    Client c;
    c.run("BEGIN", 'T');
    c.run("SET LOCAL work_mem = '2MB'", 'T');
    c.run("COMMIT", 'I');
    EXPECT_TRUE(c.t.current().empty());
}

TEST(SettingsTracker, SavepointsUndoAndRelease) {
    Client c;
    c.run("BEGIN", 'T');
    c.run("SET work_mem = '2MB'", 'T');
    c.run("SAVEPOINT a", 'T');
    c.run("SET work_mem = '3MB'", 'T');
    c.run("SAVEPOINT \"B\"", 'T');
    c.run("SET work_mem = '4MB'", 'T');
    c.run("ROLLBACK TO SAVEPOINT a", 'T');
    EXPECT_EQ(c.value("work_mem"), "SET work_mem TO '2MB'");
    EXPECT_EQ(c.applied, c.t.current());
    c.run("SET work_mem = '5MB'", 'T');
    c.run("release a", 'T');
    c.run("ROLLBACK TO b", 'E', true);  // released with a: PostgreSQL's error, nothing changes
    EXPECT_EQ(c.value("work_mem"), "SET work_mem TO '5MB'");
    c.run("ROLLBACK", 'I');
    EXPECT_TRUE(c.t.current().empty());
}

TEST(SettingsTracker, ResetReturnsToTheStartupValue) {
    Client c;
    c.t.add_startup("application_name", startup_setting_statement("application_name", "psql"));
    c.run("SET application_name = 'x'", 'I');
    c.run("SET work_mem = '2MB'", 'I');
    c.run("RESET application_name", 'I');
    EXPECT_EQ(c.value("application_name"), startup_setting_statement("application_name", "psql"));
    EXPECT_FALSE(c.applied.count("application_name"));  // the server went back to its default
    c.run("RESET ALL", 'I');
    EXPECT_EQ(c.t.current().size(), 1u);
}

TEST(SettingsTracker, UnseenTransactionEndMarksTheServerUnknown) {
    Client c;
    c.run("BEGIN", 'T');
    c.run("SET work_mem = '2MB'", 'T');
    c.run("COMMIT; SELECT 1", 'I');  // not recognised
    EXPECT_TRUE(c.applied.count(kUnknownSettings));
    auto sync = settings_sync_list(c.applied, c.t.current());
    ASSERT_FALSE(sync.empty());
    EXPECT_EQ(sync.front().second, "RESET ALL");
}

TEST(SettingsTracker, UntrackedSetInAMultiStatementTextResetsTheServerAfterwards) {
    Client c;
    c.run("SET work_mem = '2MB'", 'I');
    c.run("BEGIN", 'T');
    c.run("SET lock_timeout = 1; SELECT 1", 'T');
    EXPECT_FALSE(c.applied.count(kUnknownSettings));  // not inside the transaction
    c.run("COMMIT", 'I');
    EXPECT_TRUE(c.applied.count(kUnknownSettings));
    auto sync = settings_sync_list(c.applied, c.t.current());
    ASSERT_EQ(sync.size(), 2u);
    EXPECT_EQ(sync[0].second, "RESET ALL");
    EXPECT_EQ(sync[1].second, "SET work_mem TO '2MB'");
    Client d;
    d.run("SELECT 'offset'; SELECT 2", 'I');
    EXPECT_FALSE(d.applied.count(kUnknownSettings));
}

// pgbench ends each statement with ';': `UPDATE t SET x = 1;` is one statement whose SET is
// part of UPDATE. Counting it as a multi-statement SET reset the server connection before
// every transaction (a round trip per transaction, measured with pgbench's TPC-B).
TEST(SettingsTracker, UpdateSetWithATrailingSemicolonLeavesTheServerKnown) {
    Client c;
    c.run("BEGIN;", 'T');
    c.run("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 7;", 'T');
    c.run("END;", 'I');
    EXPECT_FALSE(c.applied.count(kUnknownSettings));
    c.run("UPDATE t SET a = ';'; SELECT 1 /* reset */", 'I');
    EXPECT_FALSE(c.applied.count(kUnknownSettings));
    // A SET as a later statement, behind blanks, comments or '(' is still seen.
    for (const char* text :
         {"SELECT 1; set work_mem = '1MB'", "SELECT 1;\n  -- why\n /* c */ RESET work_mem",
          "SELECT 1;DISCARD ALL", "SET work_mem = 1; SELECT 1"}) {
        Client d;
        d.run(text, 'I');
        EXPECT_TRUE(d.applied.count(kUnknownSettings)) << text;
    }
    Client e;
    e.run("SELECT 1; SELECT settings FROM t; SELECT reset_at FROM t", 'I');
    EXPECT_FALSE(e.applied.count(kUnknownSettings));
}

TEST(SettingsTracker, DropForgetsARefusedSetting) {
    Client c;
    c.t.add_startup("timezone", startup_setting_statement("timezone", "UTC"));
    c.run("SET TIME ZONE 'Europe/Paris'", 'I');
    c.t.drop("timezone");  // back to the startup value
    EXPECT_EQ(c.value("timezone"), startup_setting_statement("timezone", "UTC"));
    c.t.drop("timezone");  // the startup value itself refused
    EXPECT_TRUE(c.t.current().empty());
}

TEST(TransactionControl, Recognises) {
    EXPECT_EQ(parse_transaction_control("commit").kind, TransactionControl::Commit);
    EXPECT_EQ(parse_transaction_control("END WORK;").kind, TransactionControl::Commit);
    EXPECT_EQ(parse_transaction_control("COMMIT AND CHAIN").kind, TransactionControl::Commit);
    EXPECT_EQ(parse_transaction_control("PREPARE TRANSACTION 'x'").kind,
              TransactionControl::Commit);
    EXPECT_EQ(parse_transaction_control("ABORT").kind, TransactionControl::Rollback);
    auto to = parse_transaction_control("ROLLBACK WORK TO SAVEPOINT Sp1");
    EXPECT_EQ(to.kind, TransactionControl::RollbackTo);
    EXPECT_EQ(to.savepoint, "sp1");
    EXPECT_EQ(parse_transaction_control("RELEASE x").kind, TransactionControl::Release);
    EXPECT_EQ(parse_transaction_control("SAVEPOINT x").kind, TransactionControl::Savepoint);
    EXPECT_EQ(parse_transaction_control("COMMIT PREPARED 'x'").kind, TransactionControl::None);
    EXPECT_EQ(parse_transaction_control("SELECT 1").kind, TransactionControl::None);
}

TEST(SessionStateUse, RecognisesSessionScopedState) {
    using K = SessionStateUse::Kind;
    EXPECT_EQ(session_state_use("CREATE TEMP TABLE t (a int)").kind, K::TempTable);
    EXPECT_EQ(session_state_use("create global temporary table t (a int)").kind, K::TempTable);
    EXPECT_EQ(session_state_use("CREATE OR REPLACE TEMP VIEW v AS SELECT 1").kind, K::TempTable);
    EXPECT_EQ(session_state_use("CREATE TEMP TABLE t (a int) ON COMMIT DROP").kind, K::None);
    EXPECT_EQ(session_state_use("CREATE TABLE temp (a int)").kind, K::None);
    EXPECT_EQ(session_state_use("SELECT * INTO TEMP t FROM x").kind, K::TempTable);
    EXPECT_EQ(session_state_use("DECLARE c CURSOR WITH HOLD FOR SELECT 1").kind, K::HoldCursor);
    EXPECT_EQ(session_state_use("DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1").kind, K::None);
    EXPECT_EQ(session_state_use("SELECT pg_advisory_lock(1)").kind, K::AdvisoryLock);
    EXPECT_EQ(session_state_use("select PG_TRY_ADVISORY_LOCK(1, 2)").kind, K::AdvisoryLock);
    EXPECT_EQ(session_state_use("SELECT pg_advisory_xact_lock(1)").kind, K::None);
    EXPECT_EQ(session_state_use("SELECT 'pg_advisory_lock(1)' -- pg_advisory_lock").kind, K::None);
    EXPECT_EQ(session_state_use("SELECT $$pg_advisory_lock$$").kind, K::None);
    EXPECT_EQ(session_state_use("PREPARE p AS SELECT 1").kind, K::SqlPrepare);
    EXPECT_EQ(session_state_use("PREPARE TRANSACTION 'x'").kind, K::None);
    EXPECT_EQ(session_state_use("EXECUTE p").kind, K::SqlPrepare);
    auto d = session_state_use("DEALLOCATE PREPARE \"S_1\"");
    EXPECT_EQ(d.kind, K::Deallocate);
    EXPECT_EQ(d.name, "S_1");
    auto all = session_state_use("deallocate all");
    EXPECT_EQ(all.kind, K::Deallocate);
    EXPECT_EQ(all.name, "");
    EXPECT_EQ(session_state_use("LISTEN jobs").kind, K::Listen);
    EXPECT_EQ(session_state_use("  unlisten *").kind, K::Unlisten);
    EXPECT_EQ(session_state_use("FETCH 10 FROM c").kind, K::CursorOp);
    EXPECT_EQ(session_state_use("SET ROLE app").kind, K::SetRole);
    EXPECT_EQ(session_state_use("SET SESSION AUTHORIZATION app").kind, K::SetRole);
    EXPECT_EQ(session_state_use("SET LOCAL ROLE app").kind, K::None);
    EXPECT_EQ(session_state_use("SET work_mem = '1MB'").kind, K::None);
    EXPECT_EQ(session_state_use("SELECT 1").kind, K::None);
    // LISTEN / UNLISTEN are carried in transaction pooling (proxy/notify), not refused.
    EXPECT_TRUE(transaction_pooling_refusal(session_state_use("LISTEN x")).empty());
    EXPECT_FALSE(transaction_pooling_refusal(session_state_use("SET ROLE app")).empty());
}

// What an observer (LISTEN inside a transaction) is told.
struct Recorder : TransactionObserver {
    std::vector<std::string> events;
    void rolled_back_to(size_t depth) override {
        events.push_back("rollback_to " + std::to_string(depth));
    }
    void released(size_t depth) override { events.push_back("release " + std::to_string(depth)); }
    void ended(bool committed) override { events.push_back(committed ? "commit" : "rollback"); }
};

TEST(SettingsTracker, TellsItsObserverSavepointsAndTheTransactionsEnd) {
    Client c;
    Recorder r;
    c.t.set_observer(&r);
    c.run("BEGIN", 'T');
    c.run("SAVEPOINT a", 'T');
    EXPECT_EQ(c.t.savepoint_depth(), 1u);
    c.run("SAVEPOINT b", 'T');
    c.run("RELEASE SAVEPOINT b", 'T');
    c.run("ROLLBACK TO SAVEPOINT a", 'T');
    c.run("COMMIT", 'I');
    EXPECT_EQ(r.events, (std::vector<std::string>{"release 1", "rollback_to 1", "commit"}));
    r.events.clear();
    c.run("BEGIN", 'T');
    c.run("SELECT 1/0", 'E', true);
    c.run("COMMIT", 'I');  // of a failed transaction: rolled back
    c.run("BEGIN", 'T');
    c.run("COMMIT", 'I', /*failed=*/true);  // a deferred constraint failed it
    c.run("BEGIN", 'T');
    c.run("ROLLBACK", 'I');
    EXPECT_EQ(r.events, (std::vector<std::string>{"rollback", "rollback", "rollback"}));
}

TEST(SettingsTracker, StatementsOfOneQueryAreOneImplicitTransaction) {
    Client c;
    c.t.sent_batch({"SET work_mem = '2MB'", "SET statement_timeout = '5s'", "SELECT 1"}, 0, false);
    c.t.ready('I', false, c.applied);
    EXPECT_EQ(c.value("work_mem"), "SET work_mem TO '2MB'");
    EXPECT_EQ(c.value("statement_timeout"), "SET statement_timeout TO '5s'");
    EXPECT_EQ(c.t.committed(), c.t.current());
    c.t.sent_batch({"SET work_mem = '3MB'", "SELECT 1/0"}, 0, false);
    c.t.ready('I', /*failed=*/true, c.applied);
    EXPECT_EQ(c.value("work_mem"), "SET work_mem TO '2MB'");
    EXPECT_EQ(c.applied, c.t.current());
}

}  // namespace
}  // namespace sg::proxy
