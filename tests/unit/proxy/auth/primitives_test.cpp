// base64, MD5 password hashing and SCRAM verifiers against golden values. The SCRAM verifiers
// and the MD5 hash were produced by PostgreSQL 15 itself (CREATE ROLE ... PASSWORD, then
// pg_authid.rolpassword), so these tests pin byte-for-byte compatibility with the server.
#include <gtest/gtest.h>

#include "proxy/auth/base64.h"
#include "proxy/auth/md5_password.h"
#include "proxy/auth/scram_secret.h"

namespace sg::auth {
namespace {

TEST(Base64, Rfc4648Vectors) {
    const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                     {"f", "Zg=="},
                                                                     {"fo", "Zm8="},
                                                                     {"foo", "Zm9v"},
                                                                     {"foob", "Zm9vYg=="},
                                                                     {"fooba", "Zm9vYmE="},
                                                                     {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64_encode(wire::as_bytes(plain)), encoded);
        const auto decoded = base64_decode(encoded);
        ASSERT_TRUE(decoded.has_value()) << encoded;
        EXPECT_EQ(std::string(decoded->begin(), decoded->end()), plain);
    }
}

TEST(Base64, RejectsAnythingNotStrictlyBase64) {
    for (std::string_view bad :
         {"Zg=", "Zg", "Z===", "Zm9v\n", "Zm 9", "Zg==Zg==", "=Zg=", "Zm-v", "Zm9v===="}) {
        EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
    }
}

TEST(Md5Password, MatchesPostgreSQL) {
    EXPECT_EQ(md5_password_hash("md5user", "md5secret"), "md51df59ed3db2d942a46e855424bbafc45");
    EXPECT_EQ(md5_salted_response("md51df59ed3db2d942a46e855424bbafc45", {1, 2, 3, 4}),
              "md507baa9676b95e05c0c74823a7acb7695");
    EXPECT_TRUE(is_md5_hash("md51df59ed3db2d942a46e855424bbafc45"));
    EXPECT_FALSE(is_md5_hash("md51DF59ed3db2d942a46e855424bbafc45"));
    EXPECT_FALSE(is_md5_hash("md51df59ed3db2d942a46e855424bbafc4"));
    EXPECT_FALSE(md5_salted_response("plaintext", {1, 2, 3, 4}).has_value());
}

struct GoldenVerifier {
    std::string_view password;
    std::string_view verifier;
};

constexpr GoldenVerifier kPostgresVerifiers[] = {
    {"pencil",
     "SCRAM-SHA-256$4096:/WzzZZWRYFe+oqPkGQXobQ==$ztURsvJp8s/rSMLdFnI8P/EhxcYcAYaJc0yBRFGMWSs=:"
     "NtjKL7hnr0Pi6zSzmL6vVpyIOddKScnO04Ryl041y7o="},
    {"correct horse battery staple",
     "SCRAM-SHA-256$4096:BBIlJpbi4U5nzkb9r5DWvw==$RUnvezSZ/CkR+5O99DuNqSMzYnYHCFawGthaWMDxYhc=:"
     "lxDqDtuAPkQEOu5sRaQ6NwgYYEwee67Sc7aMY3T3z9A="},
};

TEST(ScramVerifier, EqualsPostgreSQLsForTheSameSaltAndIterations) {
    for (const auto& golden : kPostgresVerifiers) {
        const auto parsed = parse_scram_verifier(golden.verifier);
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(parsed->iterations, 4096);
        EXPECT_EQ(parsed->salt.size(), kScramSaltLength);
        EXPECT_EQ(make_scram_verifier(golden.password, parsed->salt, parsed->iterations),
                  golden.verifier);
        EXPECT_EQ(to_verifier(*parsed), golden.verifier);
    }
}

TEST(ScramVerifier, RejectsMalformedVerifiers) {
    for (std::string_view bad :
         {"", "SCRAM-SHA-256", "SCRAM-SHA-1$4096:c2FsdA==$AAAA:AAAA",
          "SCRAM-SHA-256$0:/WzzZZWRYFe+oqPkGQXobQ==$ztURsvJp8s/rSMLdFnI8P/EhxcYcAYaJc0yBRFGMWSs=:"
          "NtjKL7hnr0Pi6zSzmL6vVpyIOddKScnO04Ryl041y7o=",
          "SCRAM-SHA-256$4096:/WzzZZWRYFe+oqPkGQXobQ==$c2hvcnQ=:"
          "NtjKL7hnr0Pi6zSzmL6vVpyIOddKScnO04Ryl041y7o=",
          "SCRAM-SHA-256$4096x:/WzzZZWRYFe+oqPkGQXobQ==$ztURsvJp8s/rSMLdFnI8P/EhxcYcAYaJc0yBRFGMWSs"
          "=:NtjKL7hnr0Pi6zSzmL6vVpyIOddKScnO04Ryl041y7o=",
          "SCRAM-SHA-256$4096:/WzzZZWRYFe+oqPkGQXobQ==$ztURsvJp8s/rSMLdFnI8P/"
          "EhxcYcAYaJc0yBRFGMWSs="}) {
        EXPECT_FALSE(parse_scram_verifier(bad).has_value()) << bad;
    }
}

TEST(ScramVerifier, FreshSecretsUseARandomSaltAndDefaultIterations) {
    const auto a = derive_scram_secret("pw");
    const auto b = derive_scram_secret("pw");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->iterations, kDefaultScramIterations);
    EXPECT_NE(a->salt, b->salt);
}

}  // namespace
}  // namespace sg::auth
