#include "proxy/datestyle.h"

#include <gtest/gtest.h>

namespace sg::proxy {
namespace {

TEST(DateStyle, PartialValuesKeepTheSessionsOtherPart) {
    EXPECT_EQ(complete_datestyle("", "Postgres"), "Postgres, MDY");  // the default is ISO, MDY
    EXPECT_EQ(complete_datestyle("'SQL, DMY'", "Postgres"), "Postgres, DMY");
    EXPECT_EQ(complete_datestyle("'SQL, DMY'", "'YMD'"), "SQL, YMD");
    EXPECT_EQ(complete_datestyle("ISO, MDY", "Postgres, European"), "Postgres, DMY");
    EXPECT_EQ(complete_datestyle("ISO, MDY", "german"), "German, DMY");  // German implies DMY
    EXPECT_EQ(complete_datestyle("ISO, YMD", "German, MDY"), "German, MDY");
    EXPECT_EQ(complete_datestyle("ISO, MDY", "'Postgres', 'US'"), "Postgres, MDY");
    // Not DateStyle keywords, DEFAULT, or conflicting: left to the server.
    EXPECT_FALSE(complete_datestyle("ISO, MDY", "DEFAULT"));
    EXPECT_FALSE(complete_datestyle("ISO, MDY", "Postgrs"));
    EXPECT_FALSE(complete_datestyle("ISO, MDY", "ISO, SQL"));
    EXPECT_EQ(datestyle_of_statement("SET datestyle TO 'SQL, DMY'"), "'SQL, DMY'");
    EXPECT_EQ(datestyle_of_statement("SELECT pg_catalog.set_config('DateStyle', 'ISO', false)"),
              "");
}

}  // namespace
}  // namespace sg::proxy
