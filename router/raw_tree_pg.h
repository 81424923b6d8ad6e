// The one way in to PostgreSQL's server headers, for the raw_tree*.cpp files alone: they
// define macros (printf, Max, foreach, ...) that must not reach the rest of the code, so a
// file includes this header last, after every other include. CMakeLists.txt gives only the
// raw_tree*.cpp files the server include directory.
#pragma once

#include <pg_query.h>

#include <cstdint>

namespace sg::router::raw_tree {
// ParseResult.version is the release of libpg_query's own copy of PostgreSQL; the server
// headers below define PG_VERSION_NUM again as the installed minor release.
inline constexpr int32_t kLibPgQueryVersion = PG_VERSION_NUM;
}  // namespace sg::router::raw_tree
#undef PG_MAJORVERSION
#undef PG_VERSION
#undef PG_VERSION_NUM

// postgres.h must come first (it sets up what the others rely on).
// clang-format off
extern "C" {
#include <postgres.h>

#include <nodes/lockoptions.h>
#include <nodes/parsenodes.h>
#include <nodes/pg_list.h>
#include <nodes/primnodes.h>
#include <nodes/value.h>
#include <pg_query/pg_query_internal.h>
}
// clang-format on
