// Parses with libpg_query and converts its raw parse tree (raw_tree_converter.h).
#include "router/raw_tree.h"
#include "common/sqlstate.h"

#include <cstdlib>
#include <string>

#include "router/raw_tree_converter.h"

namespace sg::router {
namespace {

// One raw parse inside libpg_query's memory context, which holds the tree; leaving the context
// frees it, and the error and captured stderr (malloc'd, outside the context) go with it,
// as pg_query_free_protobuf_parse_result() frees them.
class RawParse {
public:
    explicit RawParse(const char* sql)
        : context_(pg_query_enter_memory_context()), result_(pg_query_raw_parse(sql)) {}
    ~RawParse() {
        pg_query_exit_memory_context(context_);
        if (result_.error) pg_query_free_error(result_.error);
        std::free(result_.stderr_buffer);
    }
    RawParse(const RawParse&) = delete;
    RawParse& operator=(const RawParse&) = delete;

    const PgQueryError* error() const { return result_.error; }
    const List* tree() const { return result_.tree; }

private:
    MemoryContext context_;
    PgQueryInternalParsetreeAndError result_;
};

}  // namespace

Expected<PgQuery__ParseResult*, ParseError> parse_raw_tree(const char* sql,
                                                           ProtobufCAllocator& allocator) {
    RawParse raw(sql);
    if (const PgQueryError* e = raw.error()) {
        return ParseError{e->message ? e->message : "syntax error", e->cursorpos};
    }
    raw_tree::Converter converter(allocator);
    PgQuery__ParseResult* tree = converter.parse_result(raw.tree());
    if (converter.too_deep()) {
        return ParseError{"statement is nested more than " + std::to_string(kMaxParseDepth) +
                              " levels deep, more than shardgate analyses",
                          0, sqlstate::kStatementTooComplex};
    }
    return converter.ok() ? tree : nullptr;
}

}  // namespace sg::router
