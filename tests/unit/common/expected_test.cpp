// The one Expected/Status: a value or an error, errors made with unexpected() when the two
// types could be confused, a default Status is ok.
#include "common/expected.h"

#include <gtest/gtest.h>

#include <string>

#include "common/sqlstate.h"

namespace sg {
namespace {

Expected<int, std::string> parse_digit(char c) {
    if (c < '0' || c > '9') return unexpected(std::string("not a digit"));
    return c - '0';
}

Status<const char*> check(bool good) {
    if (!good) return unexpected("bad");
    return {};
}

TEST(Expected, HoldsAValueOrAnError) {
    auto v = parse_digit('7');
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, 7);
    auto e = parse_digit('x');
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error(), "not a digit");
}

TEST(Expected, SameValueAndErrorTypeNeedsUnexpected) {
    Expected<std::string, std::string> value(std::string("v"));
    Expected<std::string, std::string> error = unexpected(std::string("e"));
    EXPECT_TRUE(value.ok());
    EXPECT_EQ(value.value(), "v");
    EXPECT_FALSE(error.ok());
    EXPECT_EQ(error.error(), "e");
}

TEST(Status, DefaultIsOkAndErrorsCarryTheReason) {
    EXPECT_TRUE(check(true).ok());
    auto st = check(false);
    ASSERT_FALSE(st);
    EXPECT_STREQ(st.error(), "bad");
}

TEST(Sqlstate, ConstantsAreTheCodesPostgresqlSends) {
    EXPECT_EQ(std::string(sqlstate::kFeatureNotSupported), "0A000");
    EXPECT_EQ(std::string(sqlstate::kConnectionFailure), "08006");
    EXPECT_EQ(std::string(sqlstate::kInFailedSqlTransaction), "25P02");
    EXPECT_EQ(sizeof(sqlstate::kQueryCanceled), 6u);  // five characters and the NUL
}

}  // namespace
}  // namespace sg
