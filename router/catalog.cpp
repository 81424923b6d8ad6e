#include "router/catalog.h"

namespace sg::router {

TableCatalog::TableCatalog(std::vector<TableConfig> tables) : tables_(std::move(tables)) {
    for (const auto& t : tables_) {
        auto dot = t.name.find('.');
        if (dot == std::string::npos) {
            entries_.push_back(Entry{"public", t.name});
        } else {
            entries_.push_back(Entry{t.name.substr(0, dot), t.name.substr(dot + 1)});
        }
    }
}

const TableConfig* TableCatalog::find(std::string_view schema, std::string_view name) const {
    std::string_view s = schema.empty() ? std::string_view("public") : schema;
    for (size_t i = 0; i < tables_.size(); ++i) {
        if (entries_[i].name == name && entries_[i].schema == s) return &tables_[i];
    }
    return nullptr;
}

const TableConfig* TableCatalog::find_any_schema(std::string_view name) const {
    for (size_t i = 0; i < tables_.size(); ++i) {
        if (entries_[i].name == name) return &tables_[i];
    }
    return nullptr;
}

}  // namespace sg::router
