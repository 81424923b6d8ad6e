// The fast way to a parse tree: PostgreSQL's raw parse tree (libpg_query's grammar) converted
// straight into libpg_query's protobuf-c structs, skipping the pack and unpack that
// pg_query_parse_protobuf() costs. PostgreSQL's server headers stay inside raw_tree*.cpp.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include "router/parser.h"
#include "router/result.h"

namespace sg::router {

// Parses `sql` (NUL-terminated) and converts the tree with `allocator`, whose memory must
// outlive the tree (nothing is freed through it). The result equals what unpacking
// pg_query_parse_protobuf()'s bytes gives: absent strings are "" and empty repeated fields
// are null.
//
// A syntax error comes back as pg_query_parse_protobuf() reports it, and a tree deeper than
// kMaxParseDepth as a 54001 error. A null tree means the statement holds a node (or a field
// value) the converter does not handle; the caller then takes the protobuf path, which handles
// everything.
Expected<PgQuery__ParseResult*, ParseError> parse_raw_tree(const char* sql,
                                                           ProtobufCAllocator& allocator);

}  // namespace sg::router
