// The role check's reading, lag, eligibility and the choice of primary (issue 19).
#include <gtest/gtest.h>

#include <vector>

#include "proxy/health/roles.h"

namespace sg::proxy::health {
namespace {

using Row = std::vector<std::optional<std::string>>;

TEST(Roles, ParsesThePrimaryAndAStandby) {
    auto p = parse_role_row(Row{"f", "f", "f", std::nullopt});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->role, Role::Primary);
    EXPECT_EQ(standby_lag_s(*p), 0);
    auto s = parse_role_row(Row{"t", "f", "t", "2.5"});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->role, Role::Standby);
    EXPECT_TRUE(s->streaming);
    EXPECT_DOUBLE_EQ(standby_lag_s(*s), 2.5);
    EXPECT_FALSE(parse_role_row(Row{"t", "f", "t"}));
    EXPECT_FALSE(parse_role_row(Row{"yes", "f", "t", "1"}));
    EXPECT_FALSE(parse_role_row(Row{"t", "f", "t", "soon"}));
}

TEST(Roles, AnIdlePrimaryDoesNotMakeACaughtUpStandbyLag) {
    // Nothing committed for an hour: the last replayed commit is old, but everything received is
    // replayed, so nothing is missing.
    auto s = parse_role_row(Row{"t", "t", "t", "3600"});
    ASSERT_TRUE(s);
    EXPECT_EQ(standby_lag_s(*s), 0);
    EXPECT_TRUE(read_eligible(true, *s, true, 1000));
}

TEST(Roles, LagBoundAndBans) {
    RoleReading behind{Role::Standby, false, true, 1.5};
    EXPECT_FALSE(read_eligible(true, behind, true, 1000));
    EXPECT_TRUE(read_eligible(true, behind, true, 2000));
    EXPECT_FALSE(read_eligible(false, behind, true, 2000));  // did not answer
    RoleReading unknown{Role::Standby, false, true, -1};
    EXPECT_FALSE(read_eligible(true, unknown, true, 1000000));
    RoleReading primary{Role::Primary, false, false, -1};
    EXPECT_FALSE(read_eligible(true, primary, true, 1000));
    // Cut off from its primary: banned while the primary is up, usable while it is down.
    RoleReading detached{Role::Standby, true, false, 5};
    EXPECT_FALSE(read_eligible(true, detached, true, 1000));
    EXPECT_TRUE(read_eligible(true, detached, false, 1000));
}

TEST(Roles, DecidePrimary) {
    using V = EndpointView;
    // Steady state.
    std::vector<V> steady{{true, Role::Primary}, {true, Role::Standby}};
    auto d = decide_primary(0, steady);
    EXPECT_EQ(d.primary, 0);
    EXPECT_FALSE(d.split_brain);
    EXPECT_FALSE(d.current_in_recovery);
    // The primary died and nobody was promoted yet: keep it (its breaker refuses).
    std::vector<V> dead{{false, Role::Unknown}, {true, Role::Standby}};
    EXPECT_EQ(decide_primary(0, dead).primary, 0);
    // The standby was promoted.
    std::vector<V> promoted{{false, Role::Unknown}, {true, Role::Primary}};
    EXPECT_EQ(decide_primary(0, promoted).primary, 1);
    // Both answer as primary: split brain, nobody moves.
    std::vector<V> split{{true, Role::Primary}, {true, Role::Primary}};
    d = decide_primary(1, split);
    EXPECT_TRUE(d.split_brain);
    EXPECT_EQ(d.primary, 1);
    // The current primary came back as a standby and none is primary: writes must stop.
    std::vector<V> demoted{{true, Role::Standby}, {true, Role::Standby}};
    d = decide_primary(0, demoted);
    EXPECT_TRUE(d.current_in_recovery);
    EXPECT_EQ(d.primary, 0);
    // An old reading of a host that no longer answers counts for nothing.
    std::vector<V> stale{{false, Role::Primary}, {true, Role::Primary}};
    EXPECT_EQ(decide_primary(0, stale).primary, 1);
    EXPECT_FALSE(decide_primary(0, stale).split_brain);
}

}  // namespace
}  // namespace sg::proxy::health
