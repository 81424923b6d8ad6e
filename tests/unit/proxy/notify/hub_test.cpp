#include "proxy/notify/hub.h"

#include <gtest/gtest.h>

#include "proxy/notify/inbox.h"
#include "proxy/notify/listen_statement.h"

namespace sg::proxy::notify {
namespace {

TEST(NotifyHub, FirstSubscriberListensOnEveryShardAndWaitsForTheAnswer) {
    NotifyHub hub(2);
    hub.connected(0);
    hub.connected(1);
    EXPECT_TRUE(hub.listen(7, "jobs"));
    EXPECT_FALSE(hub.confirmed_everywhere("jobs"));
    auto c0 = hub.next_command(0);
    auto c1 = hub.next_command(1);
    ASSERT_TRUE(c0 && c1);
    EXPECT_EQ(c0->sql, "LISTEN \"jobs\";");
    EXPECT_EQ(c1->sql, "LISTEN \"jobs\";");
    EXPECT_FALSE(hub.next_command(0));  // nothing more to say
    hub.acknowledged(0, c0->seq);
    EXPECT_TRUE(hub.confirmed(0, "jobs"));
    EXPECT_FALSE(hub.confirmed_everywhere("jobs"));  // shard 1 has not answered
    hub.acknowledged(1, c1->seq);
    EXPECT_TRUE(hub.confirmed_everywhere("jobs"));
}

TEST(NotifyHub, SecondSubscriberNeedsNoCommandAndLastOneUnlistens) {
    NotifyHub hub(1);
    hub.connected(0);
    hub.listen(1, "a");
    auto c = hub.next_command(0);
    ASSERT_TRUE(c);
    hub.acknowledged(0, c->seq);
    hub.listen(2, "a");
    EXPECT_FALSE(hub.next_command(0));
    EXPECT_TRUE(hub.confirmed_everywhere("a"));
    ASSERT_NE(hub.subscribers("a"), nullptr);
    EXPECT_EQ(hub.subscribers("a")->size(), 2u);
    hub.unlisten(1, "a");
    EXPECT_FALSE(hub.next_command(0));  // 2 still listens
    hub.unlisten_all(2);
    EXPECT_EQ(hub.subscribers("a"), nullptr);
    auto u = hub.next_command(0);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->sql, "UNLISTEN \"a\";");
    EXPECT_FALSE(hub.settled(0));
    hub.acknowledged(0, u->seq);
    EXPECT_TRUE(hub.settled(0));
}

TEST(NotifyHub, ListenAfterPendingUnlistenIsAnsweredByTheNewCommandOnly) {
    NotifyHub hub(1);
    hub.connected(0);
    hub.listen(1, "a");
    auto l1 = hub.next_command(0);
    hub.acknowledged(0, l1->seq);
    hub.unlisten(1, "a");
    auto u = hub.next_command(0);  // UNLISTEN in flight
    ASSERT_TRUE(u);
    hub.listen(2, "a");
    EXPECT_FALSE(hub.confirmed(0, "a"));  // the server will not listen after the UNLISTEN
    auto l2 = hub.next_command(0);
    ASSERT_TRUE(l2);
    EXPECT_EQ(l2->sql, "LISTEN \"a\";");
    hub.acknowledged(0, u->seq);
    EXPECT_FALSE(hub.confirmed(0, "a"));
    hub.acknowledged(0, l2->seq);
    EXPECT_TRUE(hub.confirmed(0, "a"));
}

TEST(NotifyHub, LostConnectionForgetsAndReconnectionListensAgain) {
    NotifyHub hub(2);
    hub.connected(0);
    hub.listen(1, "x");
    hub.listen(1, "y");
    EXPECT_FALSE(hub.next_command(1));  // shard 1 not connected: nothing can be sent
    auto c = hub.next_command(0);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->sql, "LISTEN \"x\";LISTEN \"y\";");
    hub.acknowledged(0, c->seq);
    EXPECT_TRUE(hub.confirmed(0, "x"));
    hub.disconnected(0);
    EXPECT_FALSE(hub.confirmed(0, "x"));
    hub.connected(0);
    auto again = hub.next_command(0);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->sql, "LISTEN \"x\";LISTEN \"y\";");
    EXPECT_FALSE(hub.confirmed(0, "x"));
    hub.acknowledged(0, again->seq);
    EXPECT_TRUE(hub.confirmed(0, "y"));
}

TEST(NotifyHub, QuotesChannelNames) {
    EXPECT_EQ(quote_channel("Mixed Case"), "\"Mixed Case\"");
    EXPECT_EQ(quote_channel("a\"b"), "\"a\"\"b\"");
}

TEST(ListenStatement, FoldsAndQuotesAsPostgres) {
    auto l = parse_listen_statement("LISTEN Jobs");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->kind, ListenStatement::Listen);
    EXPECT_EQ(l->channel, "jobs");
    auto q = parse_listen_statement("  listen \"Jobs \"\"x\"\"\" ; ");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->channel, "Jobs \"x\"");
    auto u = parse_listen_statement("UNLISTEN /* c */ chan;");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->kind, ListenStatement::Unlisten);
    EXPECT_EQ(u->channel, "chan");
    auto all = parse_listen_statement("unlisten *");
    ASSERT_TRUE(all);
    EXPECT_EQ(all->kind, ListenStatement::UnlistenAll);
    EXPECT_FALSE(parse_listen_statement("LISTEN a; SELECT 1"));
    EXPECT_FALSE(parse_listen_statement("LISTEN"));
    EXPECT_FALSE(parse_listen_statement("LISTEN a.b"));
    EXPECT_FALSE(parse_listen_statement("NOTIFY a"));
}

TEST(ListenStatement, TruncatesLongNamesOnACharacterBoundary) {
    std::string name(70, 'a');
    auto l = parse_listen_statement("LISTEN " + name);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->channel, std::string(63, 'a'));
    EXPECT_EQ(l->truncated, name);
    EXPECT_EQ(truncation_notice(*l),
              "identifier \"" + name + "\" will be truncated to \"" + std::string(63, 'a') + "\"");
    // 62 ASCII bytes then a two-byte character: it does not fit, and is not cut in half.
    std::string utf = std::string(62, 'b') + "\xc3\xa9" + "c";
    auto u = parse_listen_statement("LISTEN \"" + utf + "\"");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->channel, std::string(62, 'b'));
    auto short_one = parse_listen_statement("LISTEN abc");
    EXPECT_TRUE(short_one->truncated.empty());
}

TEST(ListenStatement, RecognisesDiscardAll) {
    EXPECT_TRUE(is_discard_all("DISCARD ALL"));
    EXPECT_TRUE(is_discard_all(" discard all ;"));
    EXPECT_FALSE(is_discard_all("DISCARD PLANS"));
    EXPECT_FALSE(is_discard_all("DISCARD ALL; SELECT 1"));
}

// A Parse message: name, query, no parameter types.
std::string parse_frame(const std::string& name, const std::string& query) {
    std::string body = name + '\0' + query + '\0' + std::string(2, '\0');
    const uint32_t len = static_cast<uint32_t>(body.size() + 4);
    std::string out = "P";
    for (int shift : {24, 16, 8, 0}) out += static_cast<char>((len >> shift) & 0xff);
    return out + body;
}

TEST(ListenStatement, TellsABatchStartingWithAListen) {
    EXPECT_TRUE(first_parse_listens(parse_frame("", "LISTEN a") + std::string("S\0\0\0\4", 5)));
    EXPECT_TRUE(first_parse_listens(parse_frame("s1", " /* c */ unlisten *")));
    EXPECT_FALSE(first_parse_listens(parse_frame("", "SELECT 1")));
    EXPECT_FALSE(
        first_parse_listens(parse_frame("listen", "SELECT 1")));  // the name is not the query
    EXPECT_FALSE(first_parse_listens(std::string_view("B\0\0\0\4", 5)));
    EXPECT_FALSE(first_parse_listens(parse_frame("", "LISTEN a").substr(0, 8)));  // truncated
}

TEST(NotificationQueue, KeepsOrderAndDropsPastItsCap) {
    NotificationQueue q(2);
    EXPECT_TRUE(q.push("one"));
    EXPECT_TRUE(q.push("two"));
    EXPECT_FALSE(q.push("three"));
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(q.take_all(), "onetwo");
    EXPECT_TRUE(q.empty());
    EXPECT_TRUE(q.push("four"));
}

}  // namespace
}  // namespace sg::proxy::notify
