#include "proxy/stats/shape_cache.h"

#include <fmt/format.h>

#include <array>
#include <cctype>

#include "proxy/stats/literal_key.h"
#include "proxy/stats/query_event.h"
#include "router/parser.h"

namespace sg::stats {

namespace {

// Display text is bounded: a 1 MB multi-row INSERT must not be kept whole per fingerprint.
constexpr size_t kMaxDisplayText = 4096;

std::string bounded(std::string s) {
    if (s.size() > kMaxDisplayText) {
        s.resize(kMaxDisplayText);
        s += "...";
    }
    return s;
}

// Distinct $n placeholders (a repeated $1 counts once).
int count_parameters(std::string_view s) {
    int highest = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] != '$' || !std::isdigit(static_cast<unsigned char>(s[i + 1]))) continue;
        int n = 0;
        size_t j = i + 1;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])) && n < 100000)
            n = n * 10 + (s[j++] - '0');
        highest = std::max(highest, n);
        i = j - 1;
    }
    return highest;
}

// The first keyword, past leading blanks and comments, upper-cased.
std::string first_word(std::string_view s) {
    constexpr auto npos = std::string_view::npos;
    size_t i = 0;
    while (i < s.size()) {
        if (std::isspace(static_cast<unsigned char>(s[i]))) {
            ++i;
        } else if (s.substr(i, 2) == "--") {
            const size_t nl = s.find('\n', i);
            i = nl == npos ? s.size() : nl + 1;
        } else if (s.substr(i, 2) == "/*") {
            const size_t end = s.find("*/", i + 2);
            i = end == npos ? s.size() : end + 2;
        } else {
            break;
        }
    }
    std::string w;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i])))
        w += static_cast<char>(std::toupper(static_cast<unsigned char>(s[i++])));
    return w;
}

bool is_control(std::string_view text) {
    static constexpr std::array<std::string_view, 13> kControl{
        "BEGIN",   "START", "COMMIT", "END",  "ROLLBACK", "ABORT",     "SAVEPOINT",
        "RELEASE", "SET",   "RESET",  "SHOW", "DISCARD",  "DEALLOCATE"};
    const std::string w = first_word(text);
    for (auto k : kControl)
        if (w == k) return true;
    return false;
}

}  // namespace

std::shared_ptr<const Shape> make_shape(const std::string& text) {
    auto shape = std::make_shared<Shape>();
    // libpg_query's fingerprint and normalization recurse through the parse tree: a text that
    // may nest deeper than the router parses is grouped by its text instead.
    auto fp = !router::excess_nesting(text)
                  ? router::fingerprint_sql(text)
                  : router::Expected<router::Fingerprint, router::ParseError>(router::ParseError{});
    auto norm = fp ? router::normalize_sql(text)
                   : router::Expected<std::string, router::ParseError>(router::ParseError{});
    if (fp && norm) {
        shape->fingerprint = fp->value;
        shape->hex = fp->hex;
        shape->normalized = bounded(std::move(norm.value()));
        shape->parsed = true;
    } else {
        // Top bit set keeps these apart from libpg_query fingerprints of the same value.
        shape->fingerprint = text_hash(text) | (uint64_t{1} << 63);
        shape->hex = fmt::format("t{:015x}", shape->fingerprint & ((uint64_t{1} << 60) - 1));
        shape->normalized = bounded(text);
    }
    shape->parameters = count_parameters(shape->normalized);
    shape->control = is_control(shape->normalized);
    return shape;
}

const std::shared_ptr<const Shape>& ShapeCache::hit(Index::iterator it) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->shape;
}

const std::shared_ptr<const Shape>& ShapeCache::get(std::string_view text) {
    // A text without constants (a prepared statement's, with $n parameters) is its own key:
    // found without computing it. No clash: the key of a text with constants holds the marker
    // \x01, and a text holding \x01 is not looked up this way.
    if (text.find('\x01') == std::string_view::npos)
        if (auto it = keyed_.find(text); it != keyed_.end()) return hit(it);
    const bool has_key = literal_key(text, key_);
    if (has_key)
        if (auto it = keyed_.find(std::string_view(key_)); it != keyed_.end()) return hit(it);
    if (auto it = index_.find(text); it != index_.end()) return hit(it);
    ++misses_;
    std::string owned(text);
    auto shape = make_shape(owned);
    // Only a parsed text stands for its key: an unparsed one is grouped by its exact bytes.
    const bool keyed = has_key && shape->parsed;
    lru_.push_front(Entry{keyed ? key_ : std::move(owned), std::move(shape), keyed});
    (keyed ? keyed_ : index_).emplace(lru_.front().text, lru_.begin());
    bytes_ += lru_.front().text.size() + lru_.front().shape->normalized.size();
    trim();
    // trim() never removes the front entry: max_entries >= 1 and the newest is never trimmed.
    return lru_.front().shape;
}

void ShapeCache::resize(size_t max_entries, size_t max_bytes) {
    max_entries_ = max_entries;
    max_bytes_ = max_bytes;
    trim();
}

void ShapeCache::clear() {
    index_.clear();
    keyed_.clear();
    lru_.clear();
    bytes_ = 0;
}

void ShapeCache::trim() {
    while (lru_.size() > 1 && (lru_.size() > max_entries_ || bytes_ > max_bytes_)) {
        const Entry& victim = lru_.back();
        bytes_ -= victim.text.size() + victim.shape->normalized.size();
        (victim.keyed ? keyed_ : index_).erase(victim.text);
        lru_.pop_back();
    }
}

}  // namespace sg::stats
