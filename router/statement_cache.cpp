#include "router/statement_cache.h"

namespace sg::router {

StatementCache::StatementCache(size_t capacity, TableCatalog catalog)
    : capacity_(capacity == 0 ? 1 : capacity), catalog_(std::move(catalog)) {}

std::shared_ptr<const Analysis> StatementCache::find(std::string_view sql) {
    auto it = index_.find(sql);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    ++hits_;
    return it->second->analysis;
}

std::shared_ptr<const Analysis> StatementCache::get(const std::string& sql) {
    if (auto hit = find(sql)) return hit;
    ++misses_;
    auto analysis = std::make_shared<const Analysis>(analyze(sql, catalog_));
    if (index_.size() >= capacity_) {
        index_.erase(lru_.back().sql);
        lru_.pop_back();
    }
    lru_.push_front(Entry{sql, analysis});
    index_.emplace(lru_.front().sql, lru_.begin());
    return analysis;
}

void StatementCache::reset(TableCatalog catalog) {
    index_.clear();
    lru_.clear();
    catalog_ = std::move(catalog);
    ++generation_;
}

}  // namespace sg::router
