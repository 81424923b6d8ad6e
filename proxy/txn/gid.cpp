#include "proxy/txn/gid.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <vector>

namespace sg::proxy::txn {

std::string sanitize_instance(std::string_view raw) {
    std::string out;
    for (char c : raw) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-')
            out += c;
        else
            out += '-';
        if (out.size() >= 64) break;  // a gid is at most 200 bytes
    }
    return out.empty() ? std::string("proxy") : out;
}

std::string make_gid(std::string_view instance, int coordinator, uint64_t epoch_us,
                     uint64_t sequence) {
    return fmt::format("{}{}_{}_{}_{}", kGidPrefix, instance, coordinator, epoch_us, sequence);
}

namespace {

bool number(std::string_view s, uint64_t& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<GidParts> parse_gid(std::string_view gid) {
    if (gid.substr(0, kGidPrefix.size()) != kGidPrefix) return std::nullopt;
    gid.remove_prefix(kGidPrefix.size());
    std::vector<std::string_view> f;
    size_t start = 0;
    for (size_t i = 0; i <= gid.size(); ++i) {
        if (i == gid.size() || gid[i] == '_') {
            f.push_back(gid.substr(start, i - start));
            start = i + 1;
        }
    }
    if (f.size() != 4 || f[0].empty()) return std::nullopt;
    GidParts p;
    p.instance = std::string(f[0]);
    uint64_t coord = 0;
    if (!number(f[1], coord) || coord > 65535 || !number(f[2], p.epoch_us) ||
        !number(f[3], p.sequence))
        return std::nullopt;
    p.coordinator = static_cast<int>(coord);
    return p;
}

}  // namespace sg::proxy::txn
