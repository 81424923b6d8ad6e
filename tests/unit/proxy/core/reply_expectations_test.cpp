// The server side of the session core, driven by byte fixtures: for what the proxy sent a
// shard (the client's messages and its own), which of the shard's replies reach the client.
#include "proxy/core/reply_expectations.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "byte_fixtures.h"
#include "proxy/wire/frame_cursor.h"

namespace sg::proxy::core {
namespace {

using namespace fixtures;
using Ready = Disposition::Ready;

// Expectations for `frames` sent as the client's own (what ShardRequest::forward_all records).
void forward_all(ReplyExpectations& ex, std::string_view frames) {
    wire::FrameCursor c(frames);
    while (auto f = c.next())
        if (auto e = forwarded_expectation(f->type)) ex.push(*e);
}

// The shard's `replies`, walked in order: the bytes the client gets (ParseCompletes the proxy
// answers included), and the ReadyForQuery kinds seen.
struct Outcome {
    std::string to_client;
    std::vector<Ready> readies;
    int quiet_errors = 0;
};
Outcome run(ReplyExpectations& ex, std::string_view replies) {
    Outcome o;
    wire::FrameCursor c(replies);
    while (auto f = c.next()) {
        Disposition d = ex.on_reply(f->type);
        for (int i = 0; i < d.parse_completes; ++i) o.to_client += parse_complete();
        if (d.quiet && f->type == 'E') ++o.quiet_errors;
        if (d.forward) o.to_client += f->whole;
        if (d.ready != Ready::None) o.readies.push_back(d.ready);
    }
    EXPECT_TRUE(c.at_end());
    return o;
}

TEST(ReplyExpectations, AClientBatchIsRelayedWhole) {
    ReplyExpectations ex;
    forward_all(
        ex, concat({parse("", "SELECT 1"), bind("", ""), describe_portal(), execute(), sync()}));
    EXPECT_EQ(ex.outstanding(), 1);
    const std::string replies =
        concat({parse_complete(), bind_complete(), row_description_one_int(), data_row("1"),
                command_complete("SELECT 1"), ready('I')});
    Outcome o = run(ex, replies);
    EXPECT_EQ(o.to_client, replies);
    EXPECT_EQ(o.readies, std::vector<Ready>{Ready::Client});
    EXPECT_EQ(ex.outstanding(), 0);
    EXPECT_TRUE(ex.empty());
}

TEST(ReplyExpectations, TheFirstClientReadyMakesTheConnectionBusy) {
    ReplyExpectations ex;
    EXPECT_FALSE(ex.push(Expect::ParseForward));
    EXPECT_TRUE(ex.push(Expect::Ready)) << "the request's clock starts";
    EXPECT_FALSE(ex.push(Expect::Ready)) << "already busy (pipelined)";
    EXPECT_EQ(ex.outstanding(), 2);
}

TEST(ReplyExpectations, AStatementPreparedAgainOnAPooledConnectionIsInvisible) {
    // The client prepared S_1 on another connection: the proxy sends its Parse first.
    ReplyExpectations ex;
    ex.push(Expect::ParseSwallow);
    forward_all(ex, concat({bind("", "S_1"), execute(), sync()}));
    Outcome o = run(ex, concat({parse_complete(), bind_complete(), command_complete("INSERT 0 1"),
                                ready('I')}));
    EXPECT_EQ(o.to_client, concat({bind_complete(), command_complete("INSERT 0 1"), ready('I')}));
}

TEST(ReplyExpectations, AParseTheProxyAnsweredGetsItsParseCompleteInPlace) {
    // A lookup already prepared on this server: the client's Parse is not sent, its
    // ParseComplete is the proxy's, ahead of the shard's first reply.
    ReplyExpectations ex;
    ex.push(Expect::ParseSynthesize);
    forward_all(ex, concat({bind("", "sg7"), execute(), sync()}));
    Outcome o =
        run(ex, concat({bind_complete(), data_row("7"), command_complete("SELECT 1"), ready('I')}));
    EXPECT_EQ(o.to_client, concat({parse_complete(), bind_complete(), data_row("7"),
                                   command_complete("SELECT 1"), ready('I')}));
}

TEST(ReplyExpectations, ALookupsInjectedBindIsDropped) {
    ReplyExpectations ex;
    ex.push(Expect::ParseSwallow);
    ex.push(Expect::BindSwallow);
    forward_all(ex, concat({describe_portal(), execute(), sync()}));
    Outcome o = run(ex, concat({parse_complete(), bind_complete(), row_description_one_int(),
                                data_row("1"), command_complete("SELECT 1"), ready('I')}));
    EXPECT_EQ(o.to_client, concat({row_description_one_int(), data_row("1"),
                                   command_complete("SELECT 1"), ready('I')}));
}

TEST(ReplyExpectations, AnErrorMidBatchSkipsToTheSyncsReady) {
    // Injected Parse, then the client's Parse fails: the shard skips the client's Close and
    // Bind, so their expectations must go too, or the next request's replies would be eaten.
    ReplyExpectations ex;
    ex.push(Expect::ParseSwallow);
    forward_all(
        ex, concat({parse("", "SELEC 1"), close_statement("x"), bind("", ""), execute(), sync()}));
    Outcome o = run(ex, concat({parse_complete(), error("42601", "syntax error"), ready('I')}));
    EXPECT_EQ(o.to_client, concat({error("42601", "syntax error"), ready('I')}));
    EXPECT_TRUE(ex.empty());
    EXPECT_EQ(ex.outstanding(), 0);
    // The next request on the connection is relayed as it should be.
    forward_all(ex, concat({parse("", "SELECT 1"), sync()}));
    o = run(ex, concat({parse_complete(), ready('I')}));
    EXPECT_EQ(o.to_client, concat({parse_complete(), ready('I')}));
}

TEST(ReplyExpectations, AQuietSettingsQueryLeavesNoTrace) {
    ReplyExpectations ex;
    ex.push(Expect::SwallowToReady);  // SET search_path ... before the client's query
    forward_all(ex, query("SELECT 1"));
    Outcome o = run(ex, concat({command_complete("SET"), ready('I'), row_description_one_int(),
                                data_row("1"), command_complete("SELECT 1"), ready('I')}));
    EXPECT_EQ(o.to_client, concat({row_description_one_int(), data_row("1"),
                                   command_complete("SELECT 1"), ready('I')}));
    EXPECT_EQ(o.readies, (std::vector<Ready>{Ready::QuietQuery, Ready::Client}));
}

TEST(ReplyExpectations, AHeldBeginGoesAheadOfTheStatementThatPickedTheShard) {
    // BEGIN was answered by the proxy (no shard yet); the first statement's shard gets it as a
    // quiet query: the client sees only its statement's replies, inside the transaction.
    ReplyExpectations ex;
    ex.push(Expect::SwallowToReady);
    forward_all(ex, query("UPDATE t SET v = 1 WHERE id = 7"));
    Outcome o = run(ex, concat({command_complete("BEGIN"), ready('T'), command_complete("UPDATE 1"),
                                ready('T')}));
    EXPECT_EQ(o.to_client, concat({command_complete("UPDATE 1"), ready('T')}));
}

TEST(ReplyExpectations, ALostConnectionLeavesWhatTheClientIsOwed) {
    // The shard died after part of a pipelined answer: the session must answer the rest
    // itself (08006 for each request still outstanding).
    ReplyExpectations ex;
    forward_all(ex, concat({query("SELECT 1"), query("SELECT 2")}));
    run(ex, concat({row_description_one_int(), data_row("1"), command_complete("SELECT 1"),
                    ready('I'), row_description_one_int()}));
    EXPECT_EQ(ex.outstanding(), 1);
    EXPECT_FALSE(ex.empty());
}

TEST(ReplyExpectations, AQuietQuerysErrorIsRecordedNotRelayed) {
    ReplyExpectations ex;
    ex.push(Expect::SwallowToReady);
    Outcome o = run(ex, concat({error("22023", "invalid value"), ready('I')}));
    EXPECT_TRUE(o.to_client.empty());
    EXPECT_EQ(o.quiet_errors, 1);
    EXPECT_EQ(o.readies, std::vector<Ready>{Ready::QuietQuery});
}

TEST(ReplyExpectations, ASplitBatchShowsOneReadyForQuery) {
    // Two pieces of one client batch on one shard: the proxy's Sync ends the first.
    ReplyExpectations ex;
    forward_all(ex, concat({parse("", "INSERT 1"), bind("", ""), execute()}));
    ex.push(Expect::SyncQuiet);
    forward_all(ex, concat({bind("", ""), execute(), sync()}));
    Outcome o =
        run(ex, concat({parse_complete(), bind_complete(), command_complete("INSERT 0 1"),
                        ready('T'), bind_complete(), command_complete("INSERT 0 1"), ready('I')}));
    EXPECT_EQ(o.readies, (std::vector<Ready>{Ready::QuietSync, Ready::Client}));
    EXPECT_EQ(o.to_client,
              concat({parse_complete(), bind_complete(), command_complete("INSERT 0 1"),
                      bind_complete(), command_complete("INSERT 0 1"), ready('I')}));
}

TEST(ReplyExpectations, PipelinedRequestsEndOneByOne) {
    ReplyExpectations ex;
    forward_all(ex, concat({query("SELECT 1"), query("SELECT 2")}));
    EXPECT_EQ(ex.outstanding(), 2);
    run(ex, concat({command_complete("SELECT 1"), ready('I')}));
    EXPECT_EQ(ex.outstanding(), 1);
    run(ex, concat({command_complete("SELECT 1"), ready('I')}));
    EXPECT_EQ(ex.outstanding(), 0);
}

TEST(ReplyExpectations, AClientCloseIsRelayed) {
    ReplyExpectations ex;
    forward_all(ex, concat({close_statement("S_1"), sync()}));
    Outcome o = run(ex, concat({close_complete(), ready('I')}));
    EXPECT_EQ(o.to_client, concat({close_complete(), ready('I')}));
    EXPECT_TRUE(ex.empty());
}

TEST(ReplyExpectations, OnlyMessagesWithTrackedRepliesRecordExpectations) {
    EXPECT_EQ(forwarded_expectation('P'), Expect::ParseForward);
    EXPECT_EQ(forwarded_expectation('C'), Expect::CloseForward);
    EXPECT_EQ(forwarded_expectation('S'), Expect::Ready);
    EXPECT_EQ(forwarded_expectation('Q'), Expect::Ready);
    EXPECT_EQ(forwarded_expectation('F'), Expect::Ready);
    for (char t : {'B', 'D', 'E', 'H', 'd', 'c', 'f'})
        EXPECT_FALSE(forwarded_expectation(t).has_value()) << t;
}

}  // namespace
}  // namespace sg::proxy::core
