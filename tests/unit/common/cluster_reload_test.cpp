// RELOAD with a changed [cluster] section is refused, naming the key (common/cluster_reload.h).
#include "common/cluster_reload.h"

#include <gtest/gtest.h>

namespace sg {
namespace {

ClusterConfig base() {
    ClusterConfig c;
    c.etcd = {"127.0.0.1:2379"};
    c.prefix = "/shardgate/a";
    c.lease_ttl_s = 3;
    c.etcd_timeout_ms = 500;
    return c;
}

TEST(ClusterReload, SameSectionReloads) {
    EXPECT_EQ(cluster_reload_refusal(base(), base()), "");
    EXPECT_EQ(cluster_reload_refusal(ClusterConfig{}, ClusterConfig{}), "");
}

TEST(ClusterReload, EveryChangedKeyIsNamed) {
    auto changed = [](auto edit) {
        ClusterConfig next = base();
        edit(next);
        return cluster_reload_refusal(base(), next);
    };
    std::string e = changed([](ClusterConfig& c) { c.etcd.push_back("127.0.0.1:2380"); });
    EXPECT_NE(
        e.find("[cluster] etcd changed from [127.0.0.1:2379] to [127.0.0.1:2379, 127.0.0.1:2380]"),
        std::string::npos)
        << e;
    EXPECT_NE(e.find("restart the proxy"), std::string::npos) << e;
    EXPECT_NE(
        changed([](ClusterConfig& c) { c.prefix = "/other"; }).find("[cluster] prefix changed"),
        std::string::npos);
    EXPECT_NE(changed([](ClusterConfig& c) {
                  c.lease_ttl_s = 5;
              }).find("[cluster] lease_ttl_s changed from 3 to 5"),
              std::string::npos);
    EXPECT_NE(changed([](ClusterConfig& c) { c.etcd_timeout_ms = 900; }).find("etcd_timeout_ms"),
              std::string::npos);
    // Turning etcd off (or on) is a change of `etcd` too.
    EXPECT_NE(changed([](ClusterConfig& c) { c.etcd.clear(); }).find("[cluster] etcd changed"),
              std::string::npos);
}

}  // namespace
}  // namespace sg
