#include "proxy/http/basic_auth.h"

#include <gtest/gtest.h>

#include "proxy/http/http_server.h"

namespace sg::http {
namespace {

// base64("admin:s3cret") = YWRtaW46czNjcmV0, base64("admin:s3cre") = YWRtaW46czNjcmU=
TEST(BasicAuth, AcceptsOnlyTheConfiguredCredentials) {
    EXPECT_TRUE(basic_auth_ok("Basic YWRtaW46czNjcmV0", "admin:s3cret"));
    EXPECT_TRUE(basic_auth_ok("  basic   YWRtaW46czNjcmV0 ", "admin:s3cret"));
    EXPECT_FALSE(basic_auth_ok("Basic YWRtaW46czNjcmU=", "admin:s3cret"));
    EXPECT_FALSE(basic_auth_ok("Basic YWRtaW46czNjcmV0", "admin:s3cre"));
    EXPECT_FALSE(basic_auth_ok("Bearer YWRtaW46czNjcmV0", "admin:s3cret"));
    EXPECT_FALSE(basic_auth_ok("Basic not*base64", "admin:s3cret"));
    EXPECT_FALSE(basic_auth_ok("", "admin:s3cret"));
    EXPECT_FALSE(basic_auth_ok("Basic", "admin:s3cret"));
}

TEST(BasicAuth, GuardsTheReportPagesButNotMetricsOrProbes) {
    int built = 0;
    Endpoints e{[] { return std::string("m 1\n"); },
                {},
                [&] {
                    ++built;
                    return std::string("<html>");
                },
                [&] {
                    ++built;
                    return std::string("{}");
                },
                [] { return std::string("admin:s3cret"); }};
    Response r = handle_request(Request{"GET", "/", ""}, e);
    EXPECT_EQ(r.status, 401u);
    ASSERT_EQ(r.headers.size(), 2u);
    EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
    EXPECT_EQ(handle_request(Request{"GET", "/report.json", "Basic YWRtaW46czNjcmU="}, e).status,
              401u);
    EXPECT_EQ(built, 0);  // nothing built for an unauthenticated request
    r = handle_request(Request{"GET", "/?x=1", "Basic YWRtaW46czNjcmV0"}, e);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "<html>");
    EXPECT_EQ(
        handle_request(Request{"GET", "/report.json", "Basic YWRtaW46czNjcmV0"}, e).content_type,
        "application/json");
    EXPECT_EQ(handle_request(Request{"POST", "/", "Basic YWRtaW46czNjcmV0"}, e).status, 405u);
    EXPECT_EQ(handle_request(Request{"GET", "/metrics", ""}, e).status, 200u);
    EXPECT_EQ(handle_request(Request{"GET", "/healthz", ""}, e).status, 200u);
    EXPECT_EQ(handle_request(Request{"GET", "/readyz", ""}, e).status, 200u);
    // Without report builders the pages do not exist.
    EXPECT_EQ(handle_request(Request{"GET", "/", ""}, Endpoints{}).status, 404u);
}

}  // namespace
}  // namespace sg::http
