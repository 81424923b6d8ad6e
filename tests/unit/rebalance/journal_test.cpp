// The journal round-trips exactly and is replaced atomically; a damaged journal is an error,
// never a silent fresh start (which would leak the old run's slots).
#include "rebalance/journal.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace sg::rebalance {
namespace {

Journal sample() {
    Journal j;
    j.run_id = "0badcafe";
    j.start_version = 7;
    j.bucket_bits = 12;
    j.moves.push_back({"s0", "s4", {3, 7, 11}, {3}, Phase::CaughtUp});
    j.moves.push_back({"s1", "s4", {5}, {}, Phase::Planned});
    j.moves[0].reference = ReferenceCopy::Copied;
    j.sources["s0"] = {"sg_rb_0badcafe_s0", "sg_rb_0badcafe"};
    j.pending = PendingSwitch{"s0", "s4", {7}, "sg_rb_0badcafe_12"};
    j.pause_ms = {12.5, 30};
    return j;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/sg-journal-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(Journal, RoundTripsThroughJson) {
    Journal j = sample();
    auto back = journal_from_json(journal_to_json(j), "mem");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, j);
}

TEST(Journal, ReferenceCopyStateIsOptionalAndChecked) {
    auto text = journal_to_json(sample());
    EXPECT_NE(text.find("\"reference\": \"copied\""), std::string::npos) << text;
    // A journal written before reference copies existed: no key means none.
    auto back = journal_from_json(
        R"({"format": 1, "run_id": "x", "start_version": 1, "bucket_bits": 4, "sources": {},
            "moves": [{"source": "a", "target": "b", "buckets": [1], "switched": [],
                       "phase": "planned"}]})",
        "mem");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->moves[0].reference, ReferenceCopy::None);
    auto bad = journal_from_json(
        R"({"format": 1, "run_id": "x", "start_version": 1, "bucket_bits": 4, "sources": {},
            "moves": [{"source": "a", "target": "b", "buckets": [1], "switched": [],
                       "phase": "planned", "reference": "maybe"}]})",
        "mem");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("reference"), std::string::npos);
}

TEST(Journal, SourcesRunInTheOrderOfTheirFirstMove) {
    Journal j;
    j.moves.push_back({"s2", "s4", {1}, {}, Phase::Planned});
    j.moves.push_back({"s0", "s4", {2}, {}, Phase::Planned});
    j.moves.push_back({"s2", "s5", {3}, {}, Phase::Planned});
    EXPECT_EQ(j.source_order(), (std::vector<std::string>{"s2", "s0"}));
}

TEST(Journal, SaveLoadAndMissingFile) {
    TempDir d;
    std::string path = journal_path(d.path.string());
    auto none = load_journal(path);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    ASSERT_TRUE(save_journal(sample(), path).ok());
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    auto loaded = load_journal(path);
    ASSERT_TRUE(loaded.ok());
    ASSERT_TRUE(loaded->has_value());
    EXPECT_EQ(**loaded, sample());
    Journal next = sample();
    next.moves[0].phase = Phase::Switched;
    next.pending.reset();
    ASSERT_TRUE(save_journal(next, path).ok());
    EXPECT_EQ(**load_journal(path), next);
}

TEST(Journal, DamagedFileIsAnErrorNamingIt) {
    TempDir d;
    std::string path = journal_path(d.path.string());
    std::ofstream(path) << "{\"format\": 1, \"run_id\": 3";
    auto r = load_journal(path);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find(path), std::string::npos);
    std::ofstream(path) << "{\"format\": 1, \"run_id\": \"x\"}";
    EXPECT_FALSE(load_journal(path).ok());
}

TEST(Journal, PhasesAndNames) {
    for (Phase p :
         {Phase::Planned, Phase::Copied, Phase::CaughtUp, Phase::Switched, Phase::Cleaned})
        EXPECT_EQ(parse_phase(to_string(p)), p);
    EXPECT_FALSE(parse_phase("bogus"));
    EXPECT_EQ(sample().staging_table("public.orders", "s0"), "shardgate_staging_orders_s0");
    EXPECT_EQ(new_run_id().size(), 8u);
}

}  // namespace
}  // namespace sg::rebalance
