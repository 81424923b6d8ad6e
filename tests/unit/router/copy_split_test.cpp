#include "router/copy_split.h"

#include <gtest/gtest.h>

#include <random>

#include "router/analyzer.h"
#include "tests/unit/router/router_fixture.h"

namespace sg::router {
namespace {

CopyInfo copy_info(const std::string& sql) {
    Analysis a = analyze(sql, testing::test_catalog());
    EXPECT_TRUE(a.copy.has_value()) << sql;
    EXPECT_FALSE(a.refusal) << a.refusal->message;
    return *a.copy;
}

// Feeds `data` in chunks of the given sizes (cycled) and returns every row.
std::vector<CopyRow> split(const CopyInfo& info, const std::string& data,
                           const std::vector<size_t>& chunk_sizes, size_t* max_buffered = nullptr) {
    CopySplitter s(info);
    std::vector<CopyRow> rows;
    size_t pos = 0, i = 0;
    while (pos < data.size()) {
        size_t n = std::min(chunk_sizes[i++ % chunk_sizes.size()], data.size() - pos);
        auto st = s.feed(std::string_view(data).substr(pos, n), rows);
        EXPECT_TRUE(st) << st.error().message;
        if (max_buffered) *max_buffered = std::max(*max_buffered, s.buffered());
        pos += n;
    }
    EXPECT_TRUE(s.finish(rows));
    return rows;
}

struct Expected {
    std::optional<std::string> key;
    std::string data;
};

void expect_rows(const std::vector<CopyRow>& rows, const std::vector<Expected>& want) {
    ASSERT_EQ(rows.size(), want.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(rows[i].key, want[i].key) << "row " << i;
        EXPECT_EQ(rows[i].data, want[i].data) << "row " << i;
    }
}

const std::string kText =
    "alice\t1\n"
    "tab\\there\t2\n"
    "back\\\\slash\t\\N\n"
    "nl\\nx\t\\x41\\102\n"
    "last\t7";
const std::vector<Expected> kTextRows = {
    {"1", "alice\t1\n"},
    {"2", "tab\\there\t2\n"},
    {std::nullopt, "back\\\\slash\t\\N\n"},
    {"AB", "nl\\nx\t\\x41\\102\n"},
    {"7", "last\t7"},
};

const std::string kCsv =
    "name,id\n"
    "\"multi\nline, \"\"quoted\"\"\",\"1\"\n"
    "plain,2\r\n"
    "empty,\n"
    "quoted empty,\"\"\n"
    "\"a\"\"b\",\"x\"\"y\"\n";
const std::vector<Expected> kCsvRows = {
    {std::nullopt, "name,id\n"}, {"1", "\"multi\nline, \"\"quoted\"\"\",\"1\"\n"},
    {"2", "plain,2\r\n"},        {std::nullopt, "empty,\n"},
    {"", "quoted empty,\"\"\n"}, {"x\"y", "\"a\"\"b\",\"x\"\"y\"\n"},
};

TEST(CopySplit, TextWholeAndByteByByte) {
    CopyInfo info = copy_info("COPY users (name, id) FROM STDIN");
    EXPECT_EQ(info.key_column, 1);
    expect_rows(split(info, kText, {kText.size()}), kTextRows);
    size_t max_buffered = 0;
    expect_rows(split(info, kText, {1}, &max_buffered), kTextRows);
    EXPECT_LE(max_buffered, std::string("nl\\nx\t\\x41\\102").size());
}

TEST(CopySplit, CsvWholeAndByteByByte) {
    CopyInfo info = copy_info("COPY users (name, id) FROM STDIN WITH (FORMAT csv, HEADER true)");
    EXPECT_EQ(info.delimiter, ',');
    EXPECT_TRUE(info.header);
    auto rows = split(info, kCsv, {1});
    expect_rows(rows, kCsvRows);
    EXPECT_TRUE(rows[0].header);
    expect_rows(split(info, kCsv, {kCsv.size()}), kCsvRows);
}

TEST(CopySplit, RandomChunkSizes) {
    CopyInfo text = copy_info("COPY users (name, id) FROM STDIN");
    CopyInfo csv = copy_info("COPY users (name, id) FROM STDIN CSV HEADER");
    std::mt19937 rng(42);
    for (int round = 0; round < 200; ++round) {
        std::vector<size_t> sizes;
        for (int i = 0; i < 16; ++i) sizes.push_back(1 + rng() % 9);
        expect_rows(split(text, kText, sizes), kTextRows);
        expect_rows(split(csv, kCsv, sizes), kCsvRows);
    }
}

TEST(CopySplit, OptionsAndEndMarker) {
    CopyInfo info = copy_info(
        "COPY users (id, name) FROM STDIN WITH (FORMAT csv, DELIMITER ';', QUOTE '''', "
        "NULL 'NULL')");
    auto rows = split(info, "'4';x\nNULL;y\n\\.\nignored;z\n", {3});
    expect_rows(rows, {{"4", "'4';x\n"}, {std::nullopt, "NULL;y\n"}});
}

TEST(CopySplit, MissingKeyColumnIsAnError) {
    CopyInfo info = copy_info("COPY users (name, id) FROM STDIN");
    CopySplitter s(info);
    std::vector<CopyRow> rows;
    auto st = s.feed("only-one-field\n", rows);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().sqlstate, "22P04");
}

TEST(CopySplit, DecodeEscapes) {
    EXPECT_EQ(decode_copy_text("a\\tb\\\\c\\x4a\\101\\q"), "a\tb\\cJAq");
}

}  // namespace
}  // namespace sg::router
