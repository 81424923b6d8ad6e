#include "proxy/cursor_places.h"

#include <gtest/gtest.h>

#include "proxy/cursor_statement.h"

namespace sg::proxy {
namespace {

TEST(CursorPlaces, TheCursorADeclareNames) {
    EXPECT_EQ(declared_cursor("DECLARE c CURSOR FOR SELECT 1"), "c");
    EXPECT_EQ(declared_cursor("declare Big_One no scroll cursor with hold for select 1"),
              "big_one");
    EXPECT_EQ(declared_cursor("DECLARE \"pdo_crsr_00000001\" SCROLL CURSOR WITH HOLD FOR SELECT 1"),
              "pdo_crsr_00000001");
    EXPECT_EQ(
        declared_cursor("/* c */ DECLARE \"My \"\"Cur\" BINARY INSENSITIVE CURSOR FOR SELECT 1"),
        "My \"Cur");
    EXPECT_EQ(declared_cursor("SELECT 1"), std::nullopt);
    EXPECT_EQ(declared_cursor("DECLARE"), std::nullopt);
}

TEST(CursorPlaces, TheCursorAFetchMoveOrCloseUses) {
    EXPECT_EQ(used_cursor("FETCH c"), "c");
    EXPECT_EQ(used_cursor("FETCH 10 FROM c;"), "c");
    EXPECT_EQ(used_cursor("fetch forward 2 from \"pdo_crsr_00000001\""), "pdo_crsr_00000001");
    EXPECT_EQ(used_cursor("FETCH ABSOLUTE -5 IN Cur"), "cur");
    EXPECT_EQ(used_cursor("MOVE BACKWARD ALL IN c"), "c");
    EXPECT_EQ(used_cursor("CLOSE c"), "c");
    EXPECT_EQ(used_cursor("CLOSE ALL"), std::nullopt);
    EXPECT_EQ(used_cursor("SELECT 1"), std::nullopt);
    EXPECT_TRUE(cursor_statement("DECLARE c CURSOR FOR SELECT 1"));
    EXPECT_TRUE(cursor_statement("FETCH ALL FROM c"));
    EXPECT_FALSE(cursor_statement("UPDATE t SET a = 1"));
}

TEST(CursorPlaces, RemembersWhereEachCursorLives) {
    CursorPlaces p;
    EXPECT_TRUE(p.empty());
    p.note("c", 1);
    p.note("__asyncpg_portal_4__", 0);
    EXPECT_EQ(p.find("c"), 1);
    EXPECT_EQ(p.find("__asyncpg_portal_4__"), 0);
    EXPECT_EQ(p.find("C"), std::nullopt);  // names are exact once folded
    p.note("c", 0);
    EXPECT_EQ(p.find("c"), 0);
    p.clear();
    EXPECT_EQ(p.find("c"), std::nullopt);
}

}  // namespace
}  // namespace sg::proxy
