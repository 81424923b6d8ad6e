// Analyses of recently seen statement texts, so a prepared statement is analysed once at Parse
// and a repeated simple-protocol text is not parsed again. Keyed by the exact SQL text.
// Not thread-safe: each event-loop thread owns its cache (as it owns its pools).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "router/analyzer.h"
#include "router/catalog.h"

namespace sg::router {

class StatementCache {
public:
    StatementCache(size_t capacity, TableCatalog catalog);

    // The analysis of `sql`, analysing it on a miss. The result stays valid after eviction
    // (shared ownership), so a prepared statement may keep it for its whole life.
    std::shared_ptr<const Analysis> get(const std::string& sql);
    // Only a lookup; null on a miss.
    std::shared_ptr<const Analysis> find(std::string_view sql);

    // Configuration reload: analyses depend on [[tables]], so all of them go.
    void reset(TableCatalog catalog);
    // Changes at every reset(): an analysis remembered outside the cache is current only while
    // the generation it was found in is.
    uint64_t generation() const { return generation_; }

    const TableCatalog& catalog() const { return catalog_; }
    size_t size() const { return index_.size(); }
    size_t capacity() const { return capacity_; }
    uint64_t hits() const { return hits_; }
    uint64_t misses() const { return misses_; }

private:
    struct Entry {
        std::string sql;
        std::shared_ptr<const Analysis> analysis;
    };
    // Most recently used first. Index keys view the list's strings, which never move.
    std::list<Entry> lru_;
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
    size_t capacity_;
    TableCatalog catalog_;
    uint64_t hits_ = 0;
    uint64_t misses_ = 0;
    uint64_t generation_ = 0;
};

}  // namespace sg::router
