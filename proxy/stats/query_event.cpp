#include "proxy/stats/query_event.h"

namespace sg::stats {

namespace {
constexpr uint64_t kOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kPrime = 0x100000001b3ull;

uint64_t mix(uint64_t h, std::string_view bytes) {
    for (unsigned char c : bytes) h = (h ^ c) * kPrime;
    return h;
}

uint64_t mix_length(uint64_t h, size_t n) {
    for (int i = 0; i < 8; ++i) h = (h ^ ((n >> (8 * i)) & 0xff)) * kPrime;
    return h;
}

uint64_t never_zero(uint64_t h) {
    return h ? h : 1;
}
}  // namespace

uint64_t param_hash(std::span<const std::string> values) {
    uint64_t h = kOffset;
    for (const auto& v : values) h = mix(mix_length(h, v.size()), v);
    return never_zero(h);
}

uint64_t text_hash(std::string_view text) {
    return never_zero(mix(kOffset, text));
}

}  // namespace sg::stats
