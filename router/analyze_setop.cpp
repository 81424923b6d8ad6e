// UNION / INTERSECT / EXCEPT: each arm is analysed as a SELECT of its own, and the set
// operation is placed by the union of the arms' shards (or merged, or refused).
#include <algorithm>
#include <numeric>
#include <set>
#include "router/analyze_internal.h"
#include "router/fanout.h"
#include "router/pg_array.h"
#include "router/replica_safe.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {

const char* set_operation_name(const PgQuery__SelectStmt& s) {
    switch (s.op) {
        case PG_QUERY__SET_OPERATION__SETOP_UNION:
            return s.all ? "UNION ALL" : "UNION";
        case PG_QUERY__SET_OPERATION__SETOP_INTERSECT:
            return s.all ? "INTERSECT ALL" : "INTERSECT";
        case PG_QUERY__SET_OPERATION__SETOP_EXCEPT:
            return s.all ? "EXCEPT ALL" : "EXCEPT";
        default:
            return nullptr;
    }
}

// UNION/INTERSECT/EXCEPT: each arm is placed on its own; together they need the union of
// the arms' shards (every shard when one arm has no key).
void analyze_set_operation(const PgQuery__SelectStmt& s, const Context& ctx, Analysis& a) {
    Analysis left, right;
    analyze_select(*s.larg, ctx, left);
    analyze_select(*s.rarg, ctx, right);
    // Each arm's own rows concatenate across shards (no aggregate, ORDER BY, LIMIT, DISTINCT,
    // set operation of its own needing more).
    const bool arms_concatenate = left.fanout_blocker.empty() && right.fanout_blocker.empty();
    // Every row of both arms comes from exactly one shard: UNION ALL of them concatenates.
    const bool arms_partitioned =
        left.placement == Placement::Sharded && right.placement == Placement::Sharded;
    a = std::move(left);
    a.simple_lookup.reset();  // the left arm's, not the statement's
    if (right.refusal) refuse(a, right.refusal->message, right.refusal->sqlstate.c_str());
    if (a.placement != right.placement || a.key_type != right.key_type) {
        if (a.placement == Placement::Sharded || right.placement == Placement::Sharded) {
            if (a.placement == Placement::Sharded && right.placement == Placement::Sharded) {
                refuse(a, std::string(set_operation_name(s)) +
                              " of tables sharded on different key types");
            } else if (a.placement == Placement::Unsharded ||
                       right.placement == Placement::Unsharded) {
                refuse(a, std::string(set_operation_name(s)) +
                              " combines a sharded table with a table that lives only on the "
                              "default shard");
            }
            if (right.placement == Placement::Sharded) {
                a.table = right.table;
                a.table_config = right.table_config;
                a.key_type = right.key_type;
            }
            a.placement = Placement::Sharded;
        } else if (right.placement == Placement::Unsharded) {
            a.placement = Placement::Unsharded;
        }
    }
    // Both arms keyed: their key union. Otherwise the sharded arm(s) need every shard.
    bool left_keyed = !a.keys.empty() || a.placement != Placement::Sharded;
    bool right_keyed = !right.keys.empty() || right.placement != Placement::Sharded;
    if (left_keyed && right_keyed) {
        a.keys.insert(a.keys.end(), right.keys.begin(), right.keys.end());
    } else {
        a.keys.clear();
    }
    a.why.insert(a.why.end(), right.why.begin(), right.why.end());
    a.fanout_blocker = set_operation_name(s);
    // The left arm's own merge plan (its aggregates, its ORDER BY) says nothing about how the
    // shards' answers to the whole set operation combine: combining by it would be wrong.
    a.merge.reset();
    // UNION ALL of partitioned arms is the shards' rows together; UNION is the same, made
    // distinct again (a reference or table-less arm's rows, on every shard, collapse too).
    // INTERSECT and EXCEPT compare rows that live on different shards: refused.
    if (s.op == PG_QUERY__SET_OPERATION__SETOP_UNION && arms_concatenate &&
        (!s.all || arms_partitioned)) {
        if (s.all && !s.n_sort_clause && !s.limit_count && !s.limit_offset) {
            a.fanout_blocker.clear();
        } else {
            if (s.all)
                a.fanout_blocker =
                    s.n_sort_clause ? "ORDER BY" : (s.limit_count ? "LIMIT" : "OFFSET");
            a.merge = set_operation_merge_plan(s);
        }
    }
}

}  // namespace sg::router::detail
