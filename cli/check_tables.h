// `shardgate check`: what a shard's schema says about the [[tables]] that would make answers
// wrong. A shard key under a nondeterministic collation ('Dave' equals 'dave', but their bytes
// hash to different buckets) and a sequence-fed column (serial, identity, DEFAULT nextval) on a
// sharded or reference table (each shard's sequence hands out the same numbers) are reported,
// and so is a unique index (PRIMARY KEY, UNIQUE) on a sharded table without the shard key
// (each shard enforces it over its own rows only).
#pragma once

#include <libpq-fe.h>

#include <string>
#include <vector>

#include "common/config.h"

namespace sg::cli {

// One line per problem found on the shard behind `conn` (a table missing there is not one).
std::vector<std::string> table_problems(PGconn* conn, const Config& cfg);

}  // namespace sg::cli
