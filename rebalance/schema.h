// A shard that owns no buckets yet gets the cluster's schema from a source shard before any
// row is copied to it, so adding a shard needs no hand-run pg_dump. Every shard has the same
// schema (DDL through the proxy runs on every configured shard), so one source's schema is
// the cluster's.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "rebalance/pg.h"

namespace sg::rebalance {

// Makes sure the target has every [[tables]] entry with the source's columns:
// - none of them on the target: the source's whole schema is copied
//   (`pg_dump --schema-only` piped into `psql --single-transaction`);
// - some missing: only those tables are copied (`pg_dump --schema-only -t ...`);
// - present with other columns or types: refused, naming the shard, table and column.
// Idempotent: a target that has the same tables is left alone.
Status ensure_schema(const Config& cfg, const Endpoint& source, PGconn* source_conn,
                     const Endpoint& target, PGconn* target_conn);

// The [[tables]] entries `c` lacks (names as in the config).
Expected<std::vector<std::string>> missing_tables(PGconn* c, const std::string& label,
                                                  const Config& cfg);

// Runs `producer | consumer` (argv vectors, looked up on PATH), each with `env` added to this
// process's environment; stderr of both is captured. An error names the failing program and
// quotes the end of its stderr. Exposed for tests.
struct Command {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
};
Status run_pipeline(const Command& producer, const Command& consumer);

}  // namespace sg::rebalance
