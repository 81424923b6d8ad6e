#include "proxy/session_settings.h"

#include <gtest/gtest.h>

#include "proxy/fanout.h"

namespace sg::proxy {
namespace {

TEST(SessionSettings, RecognisesSessionLevelSetAndReset) {
    auto set = parse_setting_statement("SET application_name = 'x'");
    ASSERT_TRUE(set);
    EXPECT_EQ(set->kind, SettingChange::Set);
    EXPECT_EQ(set->name, "application_name");
    EXPECT_EQ(set->statement, "SET application_name TO 'x'");

    auto path = parse_setting_statement("  set SESSION search_path TO \"$user\", public ;");
    ASSERT_TRUE(path);
    EXPECT_EQ(path->name, "search_path");
    EXPECT_EQ(path->statement, "SET search_path TO \"$user\", public");

    auto tz = parse_setting_statement("SET TIME ZONE 'Europe/Paris'");
    ASSERT_TRUE(tz);
    EXPECT_EQ(tz->name, "timezone");

    auto reset = parse_setting_statement("RESET DateStyle");
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->kind, SettingChange::Reset);
    EXPECT_EQ(reset->name, "datestyle");

    auto def = parse_setting_statement("SET work_mem TO DEFAULT");
    ASSERT_TRUE(def);
    EXPECT_EQ(def->kind, SettingChange::Reset);

    EXPECT_EQ(parse_setting_statement("RESET ALL")->kind, SettingChange::ResetAll);
    EXPECT_EQ(parse_setting_statement("DISCARD ALL")->kind, SettingChange::ResetAll);
}

TEST(SessionSettings, LeavesTransactionScopedAndCompoundStatementsAlone) {
    EXPECT_FALSE(parse_setting_statement("SET LOCAL work_mem = '1MB'"));
    EXPECT_FALSE(parse_setting_statement("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"));
    EXPECT_FALSE(parse_setting_statement("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"));
    EXPECT_FALSE(parse_setting_statement("SET ROLE admin"));
    EXPECT_FALSE(parse_setting_statement("SET a = 1; SELECT 1"));
    EXPECT_FALSE(parse_setting_statement("SELECT 1"));
    EXPECT_FALSE(parse_setting_statement("DISCARD PLANS"));
}

TEST(SessionSettings, ProxyLocalSettingsAreMarked) {
    auto s = parse_setting_statement("SET shardgate.shard = 's2'");
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->proxy_local);
    EXPECT_EQ(s->value, "s2");
}

TEST(SessionSettings, SyncResetsWhatAPreviousOwnerSetAndAppliesTheRest) {
    std::map<std::string, std::string> applied{{"search_path", "SET search_path TO a"},
                                               {"work_mem", "SET work_mem TO '4MB'"}};
    std::map<std::string, std::string> desired{
        {"search_path", "SET search_path TO b"},
        {"application_name", startup_setting_statement("application_name", "it's")}};
    std::string q = settings_sync_statements(applied, desired);
    EXPECT_NE(q.find("RESET work_mem;"), std::string::npos);
    EXPECT_NE(q.find("SET search_path TO b;"), std::string::npos);
    EXPECT_NE(q.find("set_config('application_name', 'it''s', false)"), std::string::npos);
    EXPECT_EQ(applied, desired);
    EXPECT_EQ(settings_sync_statements(applied, desired), "") << "nothing to do once in line";
}

TEST(SessionSettings, LiteralsReadAlikeWhateverStandardConformingStrings) {
    EXPECT_EQ(quote_sql_literal("it's"), "'it''s'");
    EXPECT_EQ(quote_sql_literal(""), "''");
    // A backslash: an E'' string with it doubled (as PostgreSQL's quote_literal()).
    EXPECT_EQ(quote_sql_literal("a\\b'c"), "E'a\\\\b''c'");
}

TEST(FanoutTags, CountsAreSummedOnlyWhenEveryTagHasOne) {
    EXPECT_EQ(merge_command_tags({"UPDATE 3", "UPDATE 4"}), "UPDATE 7");
    EXPECT_EQ(merge_command_tags({"INSERT 0 2", "INSERT 0 1"}), "INSERT 0 3");
    EXPECT_EQ(merge_command_tags({"SELECT 0", "SELECT 5", "SELECT 1"}), "SELECT 6");
    EXPECT_EQ(merge_command_tags({"COPY 10", "COPY 0"}), "COPY 10");
    EXPECT_EQ(merge_command_tags({"CREATE TABLE", "CREATE TABLE"}), "CREATE TABLE");
    EXPECT_EQ(merge_command_tags({}), "");
}

}  // namespace
}  // namespace sg::proxy
