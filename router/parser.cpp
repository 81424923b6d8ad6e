#include "router/parser.h"

#include "common/sqlstate.h"
#include "router/literals.h"
#include "router/raw_tree.h"

#include <pg_query.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace sg::router {

// Bump allocator for a parse tree (converted from the raw tree, or protobuf-c unpacked). A
// statement's tree is a few KB; freeing it is dropping the blocks, which avoids protobuf-c's
// field-by-field free_unpacked walk (measured: unpack + free costs about twice what arena
// unpack does).
struct ParseTree::Arena {
    static constexpr size_t kBlock = 8192;
    std::vector<std::unique_ptr<char[]>> blocks;  // back() is the one being filled
    std::vector<std::unique_ptr<char[]>> oversize;
    size_t used = kBlock;  // forces a block on first use

    void* allocate(size_t n) {
        n = (n + 15) & ~size_t{15};
        if (n > kBlock) return oversize.emplace_back(new char[n]).get();
        if (used + n > kBlock) {
            blocks.emplace_back(new char[kBlock]);
            used = 0;
        }
        void* p = blocks.back().get() + used;
        used += n;
        return p;
    }
    static void* alloc_cb(void* self, size_t n) { return static_cast<Arena*>(self)->allocate(n); }
    static void free_cb(void*, void*) {}
};

ParseTree::ParseTree(std::unique_ptr<Arena> arena, PgQuery__ParseResult* result)
    : arena_(std::move(arena)), result_(result) {}
ParseTree::ParseTree(ParseTree&&) noexcept = default;
ParseTree& ParseTree::operator=(ParseTree&&) noexcept = default;
ParseTree::~ParseTree() = default;

namespace {

ParseError to_parse_error(const PgQueryError* e) {
    return ParseError{e->message ? e->message : "syntax error", e->cursorpos};
}

}  // namespace

Expected<std::string, ParseError> deparse_select(const PgQuery__SelectStmt& select) {
    PgQuery__Node node = PG_QUERY__NODE__INIT;
    node.node_case = PG_QUERY__NODE__NODE_SELECT_STMT;
    node.select_stmt = const_cast<PgQuery__SelectStmt*>(&select);  // packed, never written
    PgQuery__RawStmt raw = PG_QUERY__RAW_STMT__INIT;
    raw.stmt = &node;
    PgQuery__RawStmt* stmts[1] = {&raw};
    PgQuery__ParseResult tree = PG_QUERY__PARSE_RESULT__INIT;
    tree.version = PG_VERSION_NUM;
    tree.n_stmts = 1;
    tree.stmts = stmts;
    std::string packed(pg_query__parse_result__get_packed_size(&tree), '\0');
    pg_query__parse_result__pack(&tree, reinterpret_cast<uint8_t*>(packed.data()));
    PgQueryProtobuf pb{packed.size(), packed.data()};
    PgQueryDeparseResult r = pg_query_deparse_protobuf(pb);
    if (r.error) {
        ParseError err = to_parse_error(r.error);
        pg_query_free_deparse_result(r);
        return err;
    }
    std::string out = r.query ? r.query : "";
    pg_query_free_deparse_result(r);
    return out;
}

Expected<std::string, ParseError> deparse_expression(const PgQuery__Node& expr) {
    PgQuery__ResTarget target = PG_QUERY__RES_TARGET__INIT;
    target.val = const_cast<PgQuery__Node*>(&expr);  // packed, never written
    PgQuery__Node target_node = PG_QUERY__NODE__INIT;
    target_node.node_case = PG_QUERY__NODE__NODE_RES_TARGET;
    target_node.res_target = &target;
    PgQuery__Node* targets[1] = {&target_node};
    PgQuery__SelectStmt select = PG_QUERY__SELECT_STMT__INIT;
    select.n_target_list = 1;
    select.target_list = targets;
    select.limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_DEFAULT;
    select.op = PG_QUERY__SET_OPERATION__SETOP_NONE;
    auto sql = deparse_select(select);
    if (!sql) return sql.error();
    constexpr std::string_view kPrefix = "SELECT ";
    if (sql->rfind(kPrefix, 0) != 0) return ParseError{"unexpected deparsed text: " + *sql, 0};
    return sql->substr(kPrefix.size());
}

std::shared_ptr<PgQuery__Node> copy_node(const PgQuery__Node& node) {
    std::string packed(pg_query__node__get_packed_size(&node), '\0');
    pg_query__node__pack(&node, reinterpret_cast<uint8_t*>(packed.data()));
    auto arena = std::make_shared<ParseTree::Arena>();
    ProtobufCAllocator allocator{&ParseTree::Arena::alloc_cb, &ParseTree::Arena::free_cb,
                                 arena.get()};
    PgQuery__Node* copy = pg_query__node__unpack(&allocator, packed.size(),
                                                 reinterpret_cast<const uint8_t*>(packed.data()));
    if (!copy) return nullptr;
    return std::shared_ptr<PgQuery__Node>(arena, copy);  // shares the arena's lifetime
}

namespace {

// libpg_query's own path: its protobuf bytes unpacked with `allocator`. Handles every
// statement.
Expected<PgQuery__ParseResult*, ParseError> unpack_protobuf(const std::string& sql,
                                                            ProtobufCAllocator& allocator) {
    PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql.c_str());
    if (r.error) {
        ParseError err = to_parse_error(r.error);
        pg_query_free_protobuf_parse_result(r);
        return err;
    }
    PgQuery__ParseResult* tree = pg_query__parse_result__unpack(
        &allocator, r.parse_tree.len, reinterpret_cast<const uint8_t*>(r.parse_tree.data));
    pg_query_free_protobuf_parse_result(r);
    if (!tree) return ParseError{"internal error: cannot decode the parse tree", 0};
    return tree;
}

}  // namespace

// The raw tree converted straight into the arena first: no pack and no unpack, which were
// about 70% of an uncached statement's routing time. A statement with a node the converter
// does not know is parsed again through libpg_query's protobuf path, into a fresh arena so the
// partial conversion goes away.
Expected<ParseTree, ParseError> parse_sql(const std::string& sql) {
    auto arena = std::make_unique<ParseTree::Arena>();
    ProtobufCAllocator allocator{&ParseTree::Arena::alloc_cb, &ParseTree::Arena::free_cb,
                                 arena.get()};
    auto fast = parse_raw_tree(sql.c_str(), allocator);
    if (!fast) return fast.error();
    if (*fast != nullptr) return ParseTree(std::move(arena), *fast);

    // The protobuf path recurses through the tree (libpg_query's packer, protobuf-c's
    // unpacker) and cannot be told to stop at a depth: measure first.
    if (auto deep = excess_nesting(sql)) {
        return ParseError{"statement may be nested up to " + std::to_string(*deep) +
                              " levels deep, more than the " + std::to_string(kMaxParseDepth) +
                              " shardgate analyses",
                          0, sqlstate::kStatementTooComplex};
    }
    arena = std::make_unique<ParseTree::Arena>();
    allocator.allocator_data = arena.get();
    auto tree = unpack_protobuf(sql, allocator);
    if (!tree) return tree.error();
    return ParseTree(std::move(arena), *tree);
}

Expected<Fingerprint, ParseError> fingerprint_sql(const std::string& sql) {
    PgQueryFingerprintResult r = pg_query_fingerprint(sql.c_str());
    if (r.error) {
        ParseError err = to_parse_error(r.error);
        pg_query_free_fingerprint_result(r);
        return err;
    }
    Fingerprint fp{r.fingerprint, r.fingerprint_str ? r.fingerprint_str : ""};
    pg_query_free_fingerprint_result(r);
    return fp;
}

Expected<std::string, ParseError> normalize_sql(const std::string& sql) {
    PgQueryNormalizeResult r = pg_query_normalize(sql.c_str());
    if (r.error) {
        ParseError err = to_parse_error(r.error);
        pg_query_free_normalize_result(r);
        return err;
    }
    std::string out = r.normalized_query ? r.normalized_query : "";
    pg_query_free_normalize_result(r);
    return out;
}

Expected<std::vector<Token>, ParseError> scan_sql(const std::string& sql) {
    PgQueryScanResult r = pg_query_scan(sql.c_str());
    if (r.error) {
        ParseError err = to_parse_error(r.error);
        pg_query_free_scan_result(r);
        return err;
    }
    PgQuery__ScanResult* scan = pg_query__scan_result__unpack(
        nullptr, r.pbuf.len, reinterpret_cast<const uint8_t*>(r.pbuf.data));
    pg_query_free_scan_result(r);
    if (!scan) return ParseError{"internal error: cannot decode the scan result", 0};
    std::vector<Token> tokens;
    tokens.reserve(scan->n_tokens);
    for (size_t i = 0; i < scan->n_tokens; ++i) {
        const auto* t = scan->tokens[i];
        tokens.push_back(Token{t->start, t->end, t->token, t->keyword_kind});
    }
    pg_query__scan_result__free_unpacked(scan, nullptr);
    return tokens;
}

std::optional<int> nesting_bound(const std::string& sql) {
    auto tokens = scan_sql(sql);
    if (!tokens) return std::nullopt;
    // run[i]: tokens of the unbroken expression at bracket level i so far; `open` is the sum
    // of (1 + run) over the enclosing levels.
    std::vector<int> run{0};
    int open = 0, set_operations = 0, bound = 0;
    for (const Token& t : *tokens) {
        switch (t.kind) {
            case PG_QUERY__TOKEN__SQL_COMMENT:
            case PG_QUERY__TOKEN__C_COMMENT:
                continue;
            case PG_QUERY__TOKEN__ASCII_40:  // (
            case PG_QUERY__TOKEN__ASCII_91:  // [
                open += 1 + run.back();
                run.push_back(0);
                break;
            case PG_QUERY__TOKEN__ASCII_41:  // )
            case PG_QUERY__TOKEN__ASCII_93:  // ]
                if (run.size() > 1) {
                    run.pop_back();
                    open -= 1 + run.back();
                }
                ++run.back();  // the bracketed item is a term of the enclosing expression
                break;
            case PG_QUERY__TOKEN__ASCII_44:  // ,
                run.back() = 0;
                break;
            case PG_QUERY__TOKEN__ASCII_59:  // ;
                run.assign(1, 0);
                open = 0;
                set_operations = 0;
                break;
            case PG_QUERY__TOKEN__UNION:
            case PG_QUERY__TOKEN__INTERSECT:
            case PG_QUERY__TOKEN__EXCEPT:
                ++set_operations;
                ++run.back();
                break;
            default:
                ++run.back();
                break;
        }
        bound = std::max(bound, open + run.back() + set_operations);
    }
    return bound;
}

std::optional<int> excess_nesting(const std::string& sql) {
    if (sql.size() <= size_t(kMaxParseDepth)) return std::nullopt;  // every level takes a byte
    auto bound = nesting_bound(sql);
    if (bound && *bound > kMaxParseDepth) return bound;
    return std::nullopt;
}

std::vector<std::string> scan_identifiers(const std::string& sql) {
    std::vector<std::string> out;
    auto tokens = scan_sql(sql);
    if (!tokens) {
        // Text even the scanner rejects (say, 1_000 on PostgreSQL 15): every word that could be
        // a name, unquoted ones folded to lower case, so a table it mentions is still noticed.
        for (size_t i = 0; i < sql.size();) {
            if (sql[i] == '"') {
                std::string name;
                size_t j = i + 1;
                for (; j < sql.size(); ++j) {
                    if (sql[j] != '"')
                        name += sql[j];
                    else if (j + 1 < sql.size() && sql[j + 1] == '"')
                        name += sql[j++];
                    else
                        break;
                }
                out.push_back(std::move(name));
                i = j + 1;
            } else if (sql_ident_byte(sql[i])) {
                size_t j = i;
                while (j < sql.size() && sql_ident_byte(sql[j])) ++j;
                std::string word = sql.substr(i, j - i);
                for (char& c : word)
                    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
                out.push_back(std::move(word));
                i = j;
            } else {
                ++i;
            }
        }
        return out;
    }
    for (const Token& t : *tokens) {
        std::string text = sql.substr(t.start, t.end - t.start);
        if (t.kind == PG_QUERY__TOKEN__IDENT) {
            if (text.size() >= 2 && text.front() == '"') {
                std::string unquoted;
                for (size_t i = 1; i + 1 < text.size(); ++i) {
                    unquoted += text[i];
                    if (text[i] == '"' && text[i + 1] == '"') ++i;
                }
                out.push_back(std::move(unquoted));
                continue;
            }
        } else if (t.keyword != PG_QUERY__KEYWORD_KIND__UNRESERVED_KEYWORD) {
            continue;
        }
        for (char& c : text) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        out.push_back(std::move(text));
    }
    return out;
}

}  // namespace sg::router
