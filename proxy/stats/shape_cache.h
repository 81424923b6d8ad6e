// Statement text -> its Shape (libpg_query fingerprint and normalized text). libpg_query
// costs ~10 µs a call, so it runs once per statement shape: a DML text is looked up by its
// literal-free key (literal_key.h: "... WHERE id = 1" and "... WHERE id = 2" share one entry,
// as they share one fingerprint), any other text by its exact bytes. Bounded by entry count
// and by bytes of text, least recently used out first.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sg::stats {

struct Shape {
    uint64_t fingerprint = 0;
    std::string hex;         // 16 hex digits; "t" + 15 digits when the text did not parse
    std::string normalized;  // constants as $n (the text itself when it did not parse)
    int parameters = 0;      // $n placeholders in `normalized`: 0 means no call can differ
    bool control = false;    // BEGIN/COMMIT/ROLLBACK/SAVEPOINT/SET/...: not application work
    bool parsed = false;     // libpg_query fingerprinted it (else: hashed from the exact text)
};

// Computes the shape of a text (the libpg_query calls). Unparseable text gets a fingerprint
// hashed from its exact bytes, so it is still grouped with identical text.
std::shared_ptr<const Shape> make_shape(const std::string& text);

class ShapeCache {
public:
    ShapeCache(size_t max_entries, size_t max_bytes)
        : max_entries_(max_entries), max_bytes_(max_bytes) {}

    // The shape of `text`, computed on a miss. The pointer stays valid after eviction.
    const std::shared_ptr<const Shape>& get(std::string_view text);

    void resize(size_t max_entries, size_t max_bytes);
    void clear();
    size_t size() const { return lru_.size(); }
    uint64_t hits() const { return hits_; }
    uint64_t misses() const { return misses_; }

private:
    struct Entry {
        std::string text;  // the literal key when `keyed`, else the exact text
        std::shared_ptr<const Shape> shape;
        bool keyed = false;
    };
    using Index = std::unordered_map<std::string_view, std::list<Entry>::iterator>;
    const std::shared_ptr<const Shape>& hit(Index::iterator it);
    void trim();

    // Most recently used first; the indexes' keys view the list's strings, which never move.
    // Keys and exact texts are indexed apart: a key never matches a text by accident.
    std::list<Entry> lru_;
    Index index_, keyed_;
    std::string key_;  // scratch for literal_key: no allocation per lookup
    size_t max_entries_, max_bytes_;
    size_t bytes_ = 0;
    uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace sg::stats
