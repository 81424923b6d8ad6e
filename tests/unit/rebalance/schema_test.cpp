// The schema copy's process plumbing: the producer's whole output reaches the consumer, and a
// failing program is named with the end of its stderr (a truncated dump is never loaded).
#include "rebalance/schema.h"

#include <gtest/gtest.h>

namespace sg::rebalance {
namespace {

TEST(SchemaPipeline, ProducerOutputReachesConsumer) {
    Command producer{{"sh", "-c", "printf 'CREATE TABLE t ();\\n%s\\n' \"$SG_WORD\""},
                     {{"SG_WORD", "hello"}}};
    Command strict{{"sh", "-c", "test \"$(cat)\" = \"$(printf 'CREATE TABLE t ();\\nhello')\""},
                   {}};
    auto st = run_pipeline(producer, strict);
    EXPECT_TRUE(st.ok()) << st.error().message;
}

TEST(SchemaPipeline, FailingProducerIsNamedAndConsumerNeverRuns) {
    Command producer{{"sh", "-c", "echo partial; echo 'pg_dump: error: no luck' >&2; exit 3"}, {}};
    Command consumer{{"sh", "-c", "echo consumer ran >&2; exit 9"}, {}};
    auto st = run_pipeline(producer, consumer);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("exit status 3"), std::string::npos) << st.error().message;
    EXPECT_NE(st.error().message.find("no luck"), std::string::npos) << st.error().message;
    EXPECT_EQ(st.error().message.find("consumer ran"), std::string::npos) << st.error().message;
}

TEST(SchemaPipeline, FailingConsumerQuotesItsStderr) {
    Command producer{{"sh", "-c", "echo 'CREATE TABLE x ();'"}, {}};
    Command consumer{{"sh", "-c", "cat >/dev/null; echo 'ERROR: relation exists' >&2; exit 3"}, {}};
    auto st = run_pipeline(producer, consumer);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("relation exists"), std::string::npos) << st.error().message;
}

TEST(SchemaPipeline, MissingProgramSaysWhereItComesFrom) {
    Command producer{{"shardgate-no-such-program"}, {}};
    Command consumer{{"true"}, {}};
    auto st = run_pipeline(producer, consumer);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("shardgate-no-such-program"), std::string::npos);
    EXPECT_NE(st.error().message.find("postgresql-client"), std::string::npos);
}

}  // namespace
}  // namespace sg::rebalance
