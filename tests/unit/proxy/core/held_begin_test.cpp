#include "proxy/core/held_begin.h"

#include <gtest/gtest.h>

namespace sg::proxy::core {
namespace {

TEST(HeldBegin, NothingHeldIsIdle) {
    HeldBegin b;
    EXPECT_FALSE(b.held());
    EXPECT_FALSE(b.failed());
    EXPECT_EQ(b.status(), 'I');
    EXPECT_EQ(b.text(), "");
    EXPECT_EQ(b.take(), "");
}

TEST(HeldBegin, ABeginIsHeldAndASecondKeepsTheFirstsOptions) {
    HeldBegin b;
    b.begin("BEGIN ISOLATION LEVEL SERIALIZABLE");
    b.begin("BEGIN");
    EXPECT_TRUE(b.held());
    EXPECT_EQ(b.status(), 'T');
    EXPECT_EQ(b.text(), "BEGIN ISOLATION LEVEL SERIALIZABLE");
}

TEST(HeldBegin, SetLocalIsHeldBehindTheBeginInOneText) {
    HeldBegin b;
    b.begin("BEGIN -- first");
    b.append("SET LOCAL app.tenant = '7'");
    EXPECT_EQ(b.take(), "BEGIN -- first\n;\nSET LOCAL app.tenant = '7'\n");
    EXPECT_FALSE(b.held());
    EXPECT_EQ(b.status(), 'I');
}

TEST(HeldBegin, AppendOrFailWithoutATransactionChangesNothing) {
    HeldBegin b;
    b.append("SET LOCAL x = 1");
    b.fail();  // outside a transaction an error aborts nothing
    EXPECT_FALSE(b.held());
    EXPECT_FALSE(b.failed());
    EXPECT_EQ(b.status(), 'I');
}

TEST(HeldBegin, AFailureAbortsTheHeldTransactionUntilItsEnd) {
    HeldBegin b;
    b.begin("BEGIN");
    b.fail();
    EXPECT_TRUE(b.failed());
    EXPECT_TRUE(b.held());
    EXPECT_EQ(b.status(), 'E');
    b.append("SET LOCAL x = 1");  // nothing more is held once failed
    EXPECT_EQ(b.text(), "BEGIN");
    b.clear();  // ROLLBACK (or COMMIT, which rolls back) answered
    EXPECT_EQ(b.status(), 'I');
    EXPECT_FALSE(b.failed());
}

TEST(HeldBegin, APreludeReplacesWhatWasHeld) {
    HeldBegin b;
    b.begin("BEGIN");
    b.prelude("BEGIN READ ONLY;SAVEPOINT a");
    EXPECT_EQ(b.take(), "BEGIN READ ONLY;SAVEPOINT a");
    EXPECT_FALSE(b.held());
}

}  // namespace
}  // namespace sg::proxy::core
