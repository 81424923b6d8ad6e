#include "proxy/prepared_lookups.h"

namespace sg::proxy {

namespace {
uint64_t g_next_statement_id = 1;
}

uint64_t next_statement_id() {
    return g_next_statement_id++;
}

std::string PreparedLookups::table_key(const std::string& schema, const std::string& table,
                                       std::string_view search_path) {
    std::string k;
    k.reserve(schema.size() + table.size() + search_path.size() + 2);
    k += schema;
    k += '\0';
    k += table;
    k += '\0';
    k += search_path;
    return k;
}

// The same text with other parameter types is another statement: `id = 5` and
// `id = 5000000000` declare int4 and int8.
void PreparedLookups::make_key(std::string_view shape, const std::vector<uint32_t>& types,
                               std::string_view search_path) {
    key_.assign(shape);
    key_ += '\0';
    for (uint32_t t : types) key_.append(reinterpret_cast<const char*>(&t), sizeof t);
    key_ += '\0';
    key_ += search_path;
}

PreparedLookups::Statement* PreparedLookups::find(std::string_view shape,
                                                  const std::vector<uint32_t>& types,
                                                  std::string_view search_path) {
    make_key(shape, types, search_path);
    auto it = statements_.find(key_);
    return it == statements_.end() ? nullptr : &it->second;
}

PreparedLookups::Statement* PreparedLookups::add(std::string_view shape,
                                                 const std::vector<uint32_t>& types,
                                                 std::string_view search_path,
                                                 std::string table_key) {
    if (statements_.size() >= kMaxStatements) return nullptr;
    make_key(shape, types, search_path);
    Statement& st = statements_[key_];
    if (st.id == 0) {
        st.id = next_statement_id();
        st.table_key = std::move(table_key);
    }
    return &st;
}

void PreparedLookups::schema_changed() {
    tables_.clear();
    for (auto& [key, st] : statements_) st.id = next_statement_id();
}

}  // namespace sg::proxy
