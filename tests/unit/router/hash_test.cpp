// Golden vectors for the normative bucket hash (architecture.md). The expected hashes were
// computed independently with Debian's python3-xxhash:
//   xxhash.xxh3_64_intdigest(struct.pack('<q', 42)), xxh3_64_intdigest(b"hello"),
//   xxh3_64_intdigest(uuid.UUID("a0eebc99-...").bytes) ...
// If one of these changes, every deployed cluster's placement changes: do not "fix" them.
#include "router/hash.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace sg::router {
namespace {

struct Golden {
    const char* name;
    KeyType type;
    std::string text;
    uint64_t hash;
    uint32_t bucket12;
};

class HashGolden : public ::testing::TestWithParam<Golden> {};

TEST_P(HashGolden, TextFormMatchesSpec) {
    const Golden& g = GetParam();
    auto key = canonical_from_text(g.type, g.text);
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_EQ(key_hash(key->bytes), g.hash);
    EXPECT_EQ(bucket_of_key(*key, 12), g.bucket12);
    EXPECT_EQ(bucket_of_key(*key, 1), g.hash & 1);
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, HashGolden,
    ::testing::Values(
        Golden{"int42", KeyType::BigInt, "42", 0xd5a6f8c838df27c8ULL, 1992},
        Golden{"int_minus1", KeyType::BigInt, "-1", 0x5111c7e47d784413ULL, 1043},
        Golden{"int0", KeyType::Integer, "0", 0xc77b3abb6f87acd9ULL, 3289},
        Golden{"int_max", KeyType::BigInt, "9223372036854775807", 0xa233cf376558df46ULL, 3910},
        Golden{"int_min", KeyType::BigInt, "-9223372036854775808", 0x828f2476789a0e5fULL, 3679},
        Golden{"text_hello", KeyType::Text, "hello", 0x9555e8555c62dcfdULL, 3325},
        Golden{"text_empty", KeyType::Text, "", 0x2d06800538d394c2ULL, 1218},
        Golden{"text_utf8", KeyType::Varchar, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93",
               0x3fd9c9ca13db0ea8ULL, 3752},
        Golden{"uuid", KeyType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 0x55df69482c6d3767ULL,
               1895}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Hash, EveryIntegerFormHashesAlike) {
    auto lit = canonical_int(KeyType::BigInt, 42);
    auto text = canonical_from_text(KeyType::BigInt, " +42 ");
    auto int2 = canonical_from_binary(KeyType::SmallInt, std::string("\x00\x2a", 2));
    auto int4 = canonical_from_binary(KeyType::Integer, std::string("\x00\x00\x00\x2a", 4));
    auto int8 =
        canonical_from_binary(KeyType::BigInt, std::string("\x00\x00\x00\x00\x00\x00\x00\x2a", 8));
    ASSERT_TRUE(lit && text && int2 && int4 && int8);
    EXPECT_EQ(*lit, *text);
    EXPECT_EQ(*lit, *int2);
    EXPECT_EQ(*lit, *int4);
    EXPECT_EQ(*lit, *int8);
    auto neg = canonical_from_binary(KeyType::BigInt, std::string("\xff\xff\xff\xff", 4));
    ASSERT_TRUE(neg);
    EXPECT_EQ(key_hash(neg->bytes), 0x5111c7e47d784413ULL);  // int4 -1 sign-extends
}

TEST(Hash, UuidSpellingsAreOneKey) {
    const uint64_t expected = 0x55df69482c6d3767ULL;
    for (const char* s :
         {"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc999c0b4ef8bb6d6bb9bd380a11",
          "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"}) {
        auto k = canonical_from_text(KeyType::Uuid, s);
        ASSERT_TRUE(k) << s;
        EXPECT_EQ(key_hash(k->bytes), expected) << s;
    }
    auto bin = canonical_from_text(KeyType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    auto same = canonical_from_binary(KeyType::Uuid, bin->bytes);
    ASSERT_TRUE(same);
    EXPECT_EQ(*same, *bin);
    EXPECT_EQ(display_key(KeyType::Uuid, *bin), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
}

TEST(Hash, InvalidInputIsPostgresError) {
    auto bad = canonical_from_text(KeyType::BigInt, "abc");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().sqlstate, "22P02");
    EXPECT_EQ(bad.error().message, "invalid input syntax for type bigint: \"abc\"");
    auto range = canonical_from_text(KeyType::Integer, "2147483648");
    ASSERT_FALSE(range);
    EXPECT_EQ(range.error().sqlstate, "22003");
    EXPECT_EQ(range.error().message, "value \"2147483648\" is out of range for type integer");
    EXPECT_FALSE(canonical_from_text(KeyType::BigInt, "9223372036854775808"));
    EXPECT_FALSE(canonical_from_text(KeyType::SmallInt, "32768"));
    EXPECT_TRUE(canonical_from_text(KeyType::SmallInt, "-32768"));
    EXPECT_FALSE(canonical_from_text(KeyType::BigInt, ""));
    EXPECT_FALSE(canonical_from_text(KeyType::BigInt, "1 2"));
    EXPECT_FALSE(canonical_from_text(KeyType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"));
    EXPECT_FALSE(canonical_from_text(KeyType::Uuid, "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    EXPECT_FALSE(canonical_from_binary(KeyType::BigInt, "abc"));
    EXPECT_FALSE(canonical_from_binary(KeyType::Uuid, "short"));
    EXPECT_FALSE(canonical_from_binary(KeyType::SmallInt, std::string("\x00\x01\x00\x00", 4)));
}

TEST(Hash, NullIsBucketZero) {
    EXPECT_EQ(bucket_of_key(Key::null_key(), 12), 0u);
    EXPECT_EQ(display_key(KeyType::BigInt, Key::null_key()), "NULL");
}

TEST(Hash, TextBinaryIsRawBytes) {
    auto k = canonical_from_binary(KeyType::Text, "hello");
    ASSERT_TRUE(k);
    EXPECT_EQ(key_hash(k->bytes), 0x9555e8555c62dcfdULL);
}

}  // namespace
}  // namespace sg::router
