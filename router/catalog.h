// The [[tables]] of the configuration, looked up the way PostgreSQL resolves a table name in
// the default search path: `x` and `public.x` are the same table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"

namespace sg::router {

class TableCatalog {
public:
    TableCatalog() = default;
    explicit TableCatalog(std::vector<TableConfig> tables);

    // `schema` is empty when the statement did not qualify the name. Names compare exactly:
    // the parser has already folded unquoted identifiers to lower case.
    const TableConfig* find(std::string_view schema, std::string_view name) const;
    // Any listed table named `name` in any schema (used on unparseable text, where only bare
    // identifiers are known).
    const TableConfig* find_any_schema(std::string_view name) const;
    const std::vector<TableConfig>& tables() const { return tables_; }

private:
    struct Entry {
        std::string schema;  // "public" when the config gave a bare name
        std::string name;
    };
    std::vector<TableConfig> tables_;
    std::vector<Entry> entries_;  // parallel to tables_
};

}  // namespace sg::router
