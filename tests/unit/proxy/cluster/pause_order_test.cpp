// The etcd pause order and the registration's acknowledgement (proxy/cluster/pause_order.h).
#include "proxy/cluster/pause_order.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sg::cluster {
namespace {

TEST(PauseOrder, RoundTrips) {
    PauseOrder o{"1a2b-3", "3-5,9", 7, 2500, 83, "host:42", 2};
    auto back = parse_pause_order(encode_pause_order(o));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->id, "1a2b-3");
    EXPECT_EQ(back->buckets, "3-5,9");
    EXPECT_EQ(back->version, 7u);
    EXPECT_EQ(back->lease_ms, 2500);
    EXPECT_EQ(back->drain_ms, 83);
    EXPECT_EQ(back->owner, "host:42");
    EXPECT_EQ(back->renewal, 2u);
}

TEST(PauseOrder, RefusesWhatIsNotAnOrder) {
    EXPECT_FALSE(parse_pause_order("not json"));
    EXPECT_FALSE(parse_pause_order("[1]"));
    EXPECT_FALSE(parse_pause_order(R"({"buckets":"1","lease_ms":10})"));             // no id
    EXPECT_FALSE(parse_pause_order(R"({"id":"x","lease_ms":10})"));                  // no buckets
    EXPECT_FALSE(parse_pause_order(R"({"id":"x","buckets":"1"})"));                  // no lease
    EXPECT_FALSE(parse_pause_order(R"({"id":"x","buckets":"1","lease_ms":"10"})"));  // wrong type
    EXPECT_FALSE(parse_pause_order(R"({"id":"x","buckets":"1","lease_ms":10,"version":-1})"));
    auto bad = parse_pause_order(R"({"id":"x","buckets":"1","lease_ms":0})");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("lease_ms"), std::string::npos);
}

TEST(PauseOrder, ReadsRegistrations) {
    auto r = parse_registration(
        R"({"instance":"a","address":"127.0.0.1:6432","map_version":4,"paused_buckets":"3-5",)"
        R"("pause":{"id":"1a-1","state":"held"},"lease_ttl_s":3,"pid":7})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->address, "127.0.0.1:6432");
    EXPECT_EQ(r->map_version, 4u);
    EXPECT_EQ(r->lease_ttl_s, 3);
    ASSERT_TRUE(r->pause);
    EXPECT_EQ(r->pause->id, "1a-1");
    EXPECT_EQ(r->pause->state, kPauseHeld);
    // No pause seen yet: null or absent.
    auto none = parse_registration(R"({"address":"h:1","map_version":1,"pause":null})");
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->pause);
    EXPECT_FALSE(parse_registration(R"({"map_version":1})"));  // no address
    EXPECT_FALSE(parse_registration(R"({"address":"h:1","pause":{"state":"held"}})"));  // no id
    EXPECT_FALSE(parse_registration(R"({"address":"h:1","map_version":"1"})"));
}

TEST(PauseOrder, DecisionComparesPinnedRegistrations) {
    auto body = nlohmann::json::parse(
        encode_cas_guarded("/p/map", "{}", 10, "/p/rebalance/lock", 99, "/p/proxies/", 40,
                           {{"/p/proxies/a", 41}, {"/p/proxies/b", 45}}));
    const auto& cmp = body["compare"];
    ASSERT_EQ(cmp.size(), 5u);  // map MOD, lock LEASE, registrations CREATE, 2 pinned MOD
    EXPECT_EQ(cmp[3]["target"], "MOD");
    EXPECT_EQ(cmp[3]["result"], "EQUAL");
    EXPECT_EQ(cmp[3]["mod_revision"], "41");
    EXPECT_EQ(cmp[4]["mod_revision"], "45");
}

}  // namespace
}  // namespace sg::cluster
