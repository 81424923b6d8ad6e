// Statement text -> its Shape (libpg_query fingerprint and normalized text). libpg_query
// costs ~10 µs a call, so it runs once per distinct text; afterwards a lookup is one hash of
// the text. Bounded by entry count and by bytes of text, least recently used out first.
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
    size_t size() const { return index_.size(); }
    uint64_t hits() const { return hits_; }
    uint64_t misses() const { return misses_; }

private:
    struct Entry {
        std::string text;
        std::shared_ptr<const Shape> shape;
    };
    void trim();

    // Most recently used first; the index keys view the list's strings, which never move.
    std::list<Entry> lru_;
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
    size_t max_entries_, max_bytes_;
    size_t bytes_ = 0;
    uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace sg::stats
