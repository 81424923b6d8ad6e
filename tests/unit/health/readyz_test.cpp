// /readyz in the HTTP endpoint's request handling (no I/O).
#include <gtest/gtest.h>

#include "proxy/http/http_server.h"

using namespace sg::http;

TEST(Readyz, ReadyAndDegraded) {
    BodyFn metrics = [] { return std::string("m"); };
    bool ready = true;
    ReadyFn fn = [&] {
        return Readiness{ready, ready ? "ready\n" : "degraded\nshard s1 (127.0.0.1:1): open\n"};
    };
    auto r = handle_request("GET", "/readyz", metrics, fn);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "ready\n");
    ready = false;
    r = handle_request("GET", "/readyz", metrics, fn);
    EXPECT_EQ(r.status, 503u);
    EXPECT_NE(r.body.find("shard s1"), std::string::npos);
    // /healthz stays liveness only: 200 whatever the shards.
    EXPECT_EQ(handle_request("GET", "/healthz", metrics, fn).status, 200u);
    EXPECT_EQ(handle_request("POST", "/readyz", metrics, fn).status, 405u);
}

TEST(Readyz, WithoutAReadinessSourceIsReady) {
    BodyFn metrics;
    EXPECT_EQ(handle_request("GET", "/readyz", metrics).status, 200u);
}
