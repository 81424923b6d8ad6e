// The etcd gateway's JSON bodies, encoded and decoded without I/O. The response texts are what
// etcd 3.4's gateway answered to curl (int64 as strings, defaults omitted).
#include "proxy/cluster/etcd_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sg::cluster {
namespace {

using json = nlohmann::json;

TEST(EtcdJson, PrefixEnd) {
    EXPECT_EQ(prefix_end("/a/"), "/a0");
    EXPECT_EQ(prefix_end("a\xff"), "b");
    EXPECT_EQ(prefix_end("\xff\xff"), std::string(1, '\0'));
}

TEST(EtcdJson, EncodesKeysAndValuesAsBase64) {
    json r = json::parse(encode_range("foo"));
    EXPECT_EQ(r["key"], "Zm9v");
    EXPECT_FALSE(r.contains("range_end"));
    json p = json::parse(encode_range("/p/", true));
    EXPECT_EQ(p["range_end"], "L3Aw");  // "/p0"
    json put = json::parse(encode_put("foo", "bar", 42));
    EXPECT_EQ(put["value"], "YmFy");
    EXPECT_EQ(put["lease"], "42");
    EXPECT_FALSE(json::parse(encode_put("foo", "bar"))["lease"].is_string());
}

TEST(EtcdJson, CasComparesModRevisionAndReadsBackOnFailure) {
    json t = json::parse(encode_cas("foo", "bar", 0));
    ASSERT_EQ(t["compare"].size(), 1u);
    EXPECT_EQ(t["compare"][0]["target"], "MOD");
    EXPECT_EQ(t["compare"][0]["result"], "EQUAL");
    EXPECT_EQ(t["compare"][0]["mod_revision"], "0");
    EXPECT_EQ(t["success"][0]["request_put"]["value"], "YmFy");
    EXPECT_EQ(t["failure"][0]["request_range"]["key"], "Zm9v");
    json d = json::parse(encode_delete_if_lease("foo", 77));
    EXPECT_EQ(d["compare"][0]["target"], "LEASE");
    EXPECT_EQ(d["compare"][0]["lease"], "77");
    EXPECT_EQ(d["success"][0]["request_delete_range"]["key"], "Zm9v");
}

TEST(EtcdJson, DecodesRange) {
    auto r = decode_range(
        R"({"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"},)"
        R"("kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->revision, 2);
    ASSERT_NE(r->first(), nullptr);
    EXPECT_EQ(r->first()->key, "foo");
    EXPECT_EQ(r->first()->value, "bar");
    EXPECT_EQ(r->first()->mod_revision, 2);
    EXPECT_EQ(r->first()->lease, 0);
    auto empty = decode_range(R"({"header":{"revision":"9"}})");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->first(), nullptr);
    EXPECT_EQ(empty->revision, 9);
}

TEST(EtcdJson, DecodesTxnSuccessAndFailure) {
    auto ok = decode_txn(
        R"({"header":{"revision":"5"},"succeeded":true,"responses":[{"response_put":{"header":{}}}]})");
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->succeeded);
    EXPECT_EQ(ok->revision, 5);
    // "succeeded": false is omitted by the gateway.
    auto lost = decode_txn(
        R"({"header":{"revision":"2"},"responses":[{"response_range":{"header":{"revision":"2"},)"
        R"("kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}}]})");
    ASSERT_TRUE(lost);
    EXPECT_FALSE(lost->succeeded);
    ASSERT_TRUE(lost->current.has_value());
    EXPECT_EQ(lost->current->value, "bar");
    auto absent =
        decode_txn(R"({"header":{"revision":"2"},"responses":[{"response_range":{"header":{}}}]})");
    ASSERT_TRUE(absent);
    EXPECT_FALSE(absent->current.has_value());
}

TEST(EtcdJson, DecodesLeases) {
    auto g =
        decode_lease_grant(R"({"header":{"revision":"1"},"ID":"1140152113727109638","TTL":"5"})");
    ASSERT_TRUE(g);
    EXPECT_EQ(g->id, 1140152113727109638LL);
    EXPECT_EQ(g->ttl_s, 5);
    EXPECT_FALSE(decode_lease_grant(R"({"header":{"revision":"1"},"TTL":"5"})"));
    auto alive =
        decode_keepalive(R"({"result":{"header":{"revision":"2"},"ID":"12345","TTL":"4"}})");
    ASSERT_TRUE(alive);
    EXPECT_EQ(*alive, 4);
    auto gone = decode_keepalive(R"({"result":{"header":{"revision":"2"},"ID":"12345"}})");
    ASSERT_TRUE(gone);
    EXPECT_EQ(*gone, 0);
}

TEST(EtcdJson, DecodesWatchMessages) {
    auto created = decode_watch(R"({"result":{"header":{"revision":"2"},"created":true}})");
    ASSERT_TRUE(created);
    EXPECT_TRUE(created->created);
    EXPECT_TRUE(created->events.empty());
    auto change = decode_watch(
        R"({"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"Zm9v","create_revision":"2",)"
        R"("mod_revision":"3","version":"2","value":"YmF6"}},{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"4"}}]}})");
    ASSERT_TRUE(change) << change.error().message;
    ASSERT_EQ(change->events.size(), 2u);
    EXPECT_EQ(change->events[0].type, WatchEvent::Type::Put);
    EXPECT_EQ(change->events[0].kv.value, "baz");
    EXPECT_EQ(change->events[0].kv.mod_revision, 3);
    EXPECT_EQ(change->events[1].type, WatchEvent::Type::Delete);
    auto canceled = decode_watch(
        R"({"result":{"header":{"revision":"9"},"canceled":true,"compact_revision":"5","cancel_reason":"x"}})");
    ASSERT_TRUE(canceled);
    EXPECT_TRUE(canceled->canceled);
    EXPECT_EQ(canceled->compact_revision, 5);
}

TEST(EtcdJson, ErrorsAreValuesNeverThrows) {
    auto e = decode_range(
        R"({"error":"json: cannot unmarshal number","message":"json: cannot unmarshal number","code":3})");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message.find("cannot unmarshal"), std::string::npos);
    auto streamed =
        decode_watch(R"({"error":{"grpc_code":14,"http_code":503,"message":"no leader"}})");
    ASSERT_FALSE(streamed);
    EXPECT_NE(streamed.error().message.find("no leader"), std::string::npos);
    for (const char* junk :
         {"", "nope", "[1,2]", R"({"kvs":5})", R"({"kvs":[{"key":"***"}]})",
          R"({"header":{"revision":"abc"}})", R"({"result":{"events":[{"kv":{"key":1}}]}})",
          R"({"result":{"TTL":[1]}})"}) {
        EXPECT_FALSE(decode_range(junk) && decode_watch(junk) && decode_keepalive(junk)) << junk;
    }
    EXPECT_FALSE(decode_range(R"({"kvs":[{"key":"***"}]})"));
    EXPECT_FALSE(decode_range(R"({"header":{"revision":"12x"}})"));
}

TEST(EtcdJson, SplitsStreamedMessagesKeepingThePartialTail) {
    std::string buf = "{\"a\":1}\n{\"b\":2}\r\n{\"c\":";
    auto msgs = take_stream_messages(buf);
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(msgs[0], "{\"a\":1}");
    EXPECT_EQ(msgs[1], "{\"b\":2}");
    EXPECT_EQ(buf, "{\"c\":");
    buf += "3}\n";
    msgs = take_stream_messages(buf);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0], "{\"c\":3}");
    EXPECT_TRUE(buf.empty());
}

}  // namespace
}  // namespace sg::cluster

namespace sg::cluster {
namespace {

TEST(EtcdJson, GuardedCasAlsoComparesTheLockLease) {
    nlohmann::json t = nlohmann::json::parse(encode_cas_guarded("m", "v", 12, "lock", 99));
    ASSERT_EQ(t["compare"].size(), 2u);
    EXPECT_EQ(t["compare"][0]["mod_revision"], "12");
    EXPECT_EQ(t["compare"][1]["key"], "bG9jaw==");  // "lock"
    EXPECT_EQ(t["compare"][1]["target"], "LEASE");
    EXPECT_EQ(t["compare"][1]["lease"], "99");
}

// The rebalancer's decision also requires that no proxy registered after its reading of the
// registrations (revision 40): every key under the prefix has create_revision < 41.
TEST(EtcdJson, GuardedCasCanRequireNoNewKeysUnderAPrefix) {
    nlohmann::json t =
        nlohmann::json::parse(encode_cas_guarded("m", "v", 12, "lock", 99, "/p/proxies/", 40));
    ASSERT_EQ(t["compare"].size(), 3u);
    const auto& c = t["compare"][2];
    EXPECT_EQ(c["key"], "L3AvcHJveGllcy8=");        // "/p/proxies/"
    EXPECT_EQ(c["range_end"], "L3AvcHJveGllczA=");  // prefix_end: "/p/proxies0"
    EXPECT_EQ(c["target"], "CREATE");
    EXPECT_EQ(c["result"], "LESS");
    EXPECT_EQ(c["create_revision"], "41");
    // Without a prefix, no such compare.
    EXPECT_EQ(nlohmann::json::parse(encode_cas_guarded("m", "v", 12, "lock", 99))["compare"].size(),
              2u);
}

}  // namespace
}  // namespace sg::cluster
