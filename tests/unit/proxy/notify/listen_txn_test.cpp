#include "proxy/notify/listen_txn.h"

#include <gtest/gtest.h>

namespace sg::proxy::notify {
namespace {

ListenStatement listen(const std::string& ch) {
    return {ListenStatement::Listen, ch, {}};
}
ListenStatement unlisten(const std::string& ch) {
    return {ListenStatement::Unlisten, ch, {}};
}

using Channels = ListenTransaction::Channels;

TEST(ListenTransaction, CommitAppliesInOrderRollbackDrops) {
    ListenTransaction t;
    t.listened("old");
    ASSERT_TRUE(t.needs_subscription("a"));
    t.subscribed("a");
    t.add(listen("a"), 0);
    EXPECT_FALSE(t.needs_subscription("a"));
    EXPECT_FALSE(t.needs_subscription("old"));
    EXPECT_TRUE(t.accepts("a"));  // queued until the end decides
    auto drop = t.end(false);
    EXPECT_EQ(drop, std::vector<std::string>{"a"});
    EXPECT_EQ(t.active(), Channels{"old"});
    EXPECT_FALSE(t.accepts("a"));

    t.subscribed("b");
    t.add(listen("b"), 0);
    t.add(unlisten("old"), 0);
    drop = t.end(true);
    EXPECT_EQ(drop, std::vector<std::string>{"old"});
    EXPECT_EQ(t.active(), Channels{"b"});
    EXPECT_FALSE(t.pending());
}

TEST(ListenTransaction, ListenThenUnlistenInOneTransactionListensOnNothing) {
    ListenTransaction t;
    t.subscribed("a");
    t.add(listen("a"), 0);
    t.add(unlisten("a"), 0);
    EXPECT_EQ(t.end(true), std::vector<std::string>{"a"});
    EXPECT_TRUE(t.active().empty());
}

TEST(ListenTransaction, UnlistenAllThenListen) {
    ListenTransaction t;
    t.listened("x");
    t.listened("y");
    t.add({ListenStatement::UnlistenAll, "", {}}, 0);
    t.add(listen("y"), 0);  // active: no subscription needed
    auto drop = t.end(true);
    EXPECT_EQ(drop, std::vector<std::string>{"x"});
    EXPECT_EQ(t.active(), Channels{"y"});
}

TEST(ListenTransaction, SavepointsRollBackToAndRelease) {
    ListenTransaction t;
    for (auto ch : {"kept", "undone", "released", "after"}) t.subscribed(ch);
    t.add(listen("kept"), 0);      // before SAVEPOINT s1
    t.add(listen("undone"), 1);    // after s1 (depth 1)
    t.rolled_back_to(1);           // ROLLBACK TO s1: s1 stays open
    t.add(listen("released"), 2);  // after SAVEPOINT s2 (depth 2)
    t.released(1);                 // RELEASE s2: handed to the level of s1
    t.add(listen("after"), 1);
    t.rolled_back_to(2);  // a later savepoint's rollback keeps what was released below it
    auto drop = t.end(true);
    EXPECT_EQ(drop, std::vector<std::string>{"undone"});
    EXPECT_EQ(t.active(), (Channels{"after", "kept", "released"}));
}

TEST(ListenTransaction, ReleasedIntoARolledBackSavepointIsDropped) {
    ListenTransaction t;
    t.subscribed("inner");
    t.add(listen("inner"), 2);  // SAVEPOINT a; SAVEPOINT b; LISTEN inner
    t.released(1);              // RELEASE b
    t.rolled_back_to(1);        // ROLLBACK TO a
    EXPECT_EQ(t.end(true), std::vector<std::string>{"inner"});
    EXPECT_TRUE(t.active().empty());
}

TEST(NotificationChannel, ReadsTheFrame) {
    std::string f = std::string("A\0\0\0\x15\0\0\0\x07", 9) + std::string("chan\0payload\0", 13);
    EXPECT_EQ(notification_channel(f), "chan");
    EXPECT_EQ(notification_channel("Zxx"), "");
}

}  // namespace
}  // namespace sg::proxy::notify
