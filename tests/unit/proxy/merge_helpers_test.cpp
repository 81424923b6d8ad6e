// Pure pieces of the merge path (issue 16): RETURNING rows put back in VALUES order, HAVING
// parameters written as literals, the settings whose text values do not read back, and type
// modifiers spelled for the combining query.
#include <gtest/gtest.h>

#include "proxy/having_params.h"
#include "proxy/merge_checks.h"
#include "proxy/merge_types.h"
#include "proxy/returning_order.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {
namespace {

std::string data_row(const std::string& v) {
    std::string out;
    wire::MessageWriter w(out);
    std::vector<wire::Value> values{wire::Value(wire::as_bytes(std::string_view(v)))};
    wire::encode_data_row(values, w);
    return out;
}

std::string tag(const std::string& t) {
    std::string out;
    wire::MessageWriter w(out);
    w.begin('C');
    w.cstr(t);
    w.end();
    return out;
}

TEST(MergeHelpers, ReturningRowsComeBackInValuesOrder) {
    // VALUES rows 0..3; shard parts: {1, 3} then {0, 2}; run_fanout concatenated part by part.
    std::vector<router::ShardRows> parts{{0, {1, 3}}, {2, {0, 2}}};
    std::string reply =
        data_row("b") + data_row("d") + data_row("a") + data_row("c") + tag("INSERT 0 4");
    std::string got = returning_in_values_order(reply, parts);
    EXPECT_EQ(got,
              data_row("a") + data_row("b") + data_row("c") + data_row("d") + tag("INSERT 0 4"));
    // A row count that is not one per VALUES row: left as it is.
    std::string short_reply = data_row("b") + data_row("a") + tag("INSERT 0 2");
    EXPECT_EQ(returning_in_values_order(short_reply, parts), short_reply);
}

TEST(MergeHelpers, HavingParametersBecomeLiterals) {
    wire::Bind b;
    std::string seven = "7", name = "it's";
    b.params = {wire::Value(wire::as_bytes(std::string_view(seven))),
                wire::Value(wire::as_bytes(std::string_view(name))), std::nullopt};
    std::vector<uint32_t> types{0, 25};
    std::string why;
    auto out = bind_having_params("count(*) > $1 AND max(x) <> $2 OR '$1' = \"$2\" OR y = $3", &b,
                                  &types, why);
    ASSERT_TRUE(out) << why;
    EXPECT_EQ(*out,
              "count(*) > ('7') AND max(x) <> ('it''s'::text) OR '$1' = \"$2\" OR y = (NULL)");
    EXPECT_FALSE(bind_having_params("count(*) > $4", &b, &types, why));
    EXPECT_FALSE(bind_having_params("count(*) > $1", nullptr, nullptr, why));
    EXPECT_EQ(mentioned_params("SELECT a FROM t WHERE b = $2 AND c = '$1'", 3),
              (std::vector<bool>{false, true, false}));
}

TEST(MergeHelpers, SettingsWhoseTextDoesNotReadBack) {
    std::map<std::string, std::string> s;
    EXPECT_FALSE(text_round_trip_hazard(s, 1184));
    s["datestyle"] = "SET datestyle TO 'SQL, DMY'";
    EXPECT_TRUE(text_round_trip_hazard(s, 1184));
    EXPECT_FALSE(text_round_trip_hazard(s, 1114));  // no zone abbreviation in a timestamp
    s["datestyle"] = "SELECT pg_catalog.set_config('datestyle', 'iso, dmy', false)";
    EXPECT_FALSE(text_round_trip_hazard(s, 1184));
    s["extra_float_digits"] = "SET extra_float_digits TO 0";
    EXPECT_TRUE(text_round_trip_hazard(s, 701));
    s["extra_float_digits"] = "SET extra_float_digits TO -3";
    EXPECT_TRUE(text_round_trip_hazard(s, 700));
    s["extra_float_digits"] = "SET extra_float_digits TO 3";
    EXPECT_FALSE(text_round_trip_hazard(s, 701));
}

TEST(MergeHelpers, TypeModifiersAreSpelled) {
    EXPECT_EQ(*type_with_modifier(1700, (12 << 16 | 2) + 4, "numeric"), "numeric(12,2)");
    EXPECT_EQ(*type_with_modifier(1043, 44, "varchar"), "varchar(40)");
    EXPECT_EQ(*type_with_modifier(1184, 3, "timestamptz"), "timestamptz(3)");
    EXPECT_EQ(*type_with_modifier(23, -1, "int4"), "int4");
    EXPECT_FALSE(type_with_modifier(1186, 5, "interval"));
}

}  // namespace
}  // namespace sg::proxy
