#include <fmt/format.h>

#include "common/cluster_config_parse.h"
#include "common/config.h"

namespace sg {

namespace {

// "host:port" with a non-empty host and a port in [1, 65535].
bool valid_endpoint(const std::string& ep) {
    const auto colon = ep.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == ep.size()) return false;
    const std::string port = ep.substr(colon + 1);
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
    const int p = std::stoi(port);
    return p >= 1 && p <= 65535;
}

int64_t get_int(const toml::node& v, const std::string& file, const std::string& key, int64_t lo,
                int64_t hi) {
    auto n = v.value<int64_t>();
    if (!v.is_integer() || !n) throw ConfigError(file, key, "expected an integer");
    if (*n < lo || *n > hi)
        throw ConfigError(file, key, fmt::format("{} is out of range [{}, {}]", *n, lo, hi));
    return *n;
}

}  // namespace

ClusterConfig parse_cluster(const toml::table* t, const std::string& file) {
    ClusterConfig c;
    if (!t) return c;
    for (const auto& [k, v] : *t) {
        const std::string key = fmt::format("cluster.{}", k.str());
        if (k.str() == "etcd") {
            const toml::array* arr = v.as_array();
            if (!arr) throw ConfigError(file, key, "expected an array of \"host:port\" strings");
            for (size_t i = 0; i < arr->size(); ++i) {
                auto s = (*arr)[i].value<std::string>();
                if (!(*arr)[i].is_string() || !s || !valid_endpoint(*s))
                    throw ConfigError(file, fmt::format("{}[{}]", key, i),
                                      "expected \"host:port\"");
                c.etcd.push_back(*s);
            }
            if (c.etcd.empty())
                throw ConfigError(file, key,
                                  "must list at least one etcd member (or leave it out)");
        } else if (k.str() == "prefix") {
            auto s = v.value<std::string>();
            if (!v.is_string() || !s) throw ConfigError(file, key, "expected a string");
            // Keys are "<prefix>/map", "<prefix>/proxies/<id>": the prefix is an absolute path
            // without a trailing slash, so two clusters' prefixes never nest by accident.
            if (s->size() < 2 || s->front() != '/' || s->back() == '/')
                throw ConfigError(file, key,
                                  fmt::format("'{}' must start with '/' and not end with '/'", *s));
            c.prefix = *s;
        } else if (k.str() == "lease_ttl_s") {
            c.lease_ttl_s = static_cast<int>(get_int(v, file, key, 2, 3600));
        } else if (k.str() == "etcd_timeout_ms") {
            c.etcd_timeout_ms = static_cast<int>(get_int(v, file, key, 50, 600000));
        } else {
            throw ConfigError(file, key,
                              "unknown key (expected etcd, prefix, lease_ttl_s, etcd_timeout_ms)");
        }
    }
    // A request must be able to time out and fail over before the lease it renews expires.
    if (!c.etcd.empty() && c.etcd_timeout_ms >= c.lease_ttl_s * 1000 / 2)
        throw ConfigError(file, "cluster.etcd_timeout_ms", "must be less than half of lease_ttl_s");
    return c;
}

}  // namespace sg
