#include <fmt/format.h>

#include "common/config.h"
#include "common/replica_config_parse.h"

namespace sg {

const char* to_string(ReadFrom r) {
    switch (r) {
        case ReadFrom::Primary:
            return "primary";
        case ReadFrom::Replica:
            return "replica";
        case ReadFrom::Any:
            return "any";
    }
    return "primary";
}

std::optional<ReadFrom> parse_read_from(std::string_view s) {
    if (s == "primary") return ReadFrom::Primary;
    if (s == "replica") return ReadFrom::Replica;
    if (s == "any") return ReadFrom::Any;
    return std::nullopt;
}

std::vector<ReplicaEndpoint> parse_replicas(const toml::node& n, const std::string& file,
                                            const std::string& key,
                                            const std::string& default_host) {
    const toml::array* arr = n.as_array();
    if (!arr)
        throw ConfigError(
            file, key,
            "expected an array of tables, e.g. replicas = [{ host = \"10.0.0.2\", port = 5432 }]");
    std::vector<ReplicaEndpoint> out;
    for (size_t i = 0; i < arr->size(); ++i) {
        const std::string at = fmt::format("{}[{}]", key, i);
        const toml::table* t = (*arr)[i].as_table();
        if (!t) throw ConfigError(file, at, "expected a table { host = \"...\", port = ... }");
        ReplicaEndpoint r;
        r.host = default_host;
        for (const auto& [k, v] : *t) {
            if (k.str() == "host") {
                auto s = v.value<std::string>();
                if (!v.is_string() || !s || s->empty())
                    throw ConfigError(file, at + ".host", "expected a non-empty string");
                r.host = *s;
            } else if (k.str() == "port") {
                auto p = v.value<int64_t>();
                if (!v.is_integer() || !p)
                    throw ConfigError(file, at + ".port", "expected an integer");
                if (*p < 1 || *p > 65535)
                    throw ConfigError(file, at + ".port",
                                      fmt::format("{} is out of range [1, 65535]", *p));
                r.port = static_cast<uint16_t>(*p);
            } else {
                throw ConfigError(file, fmt::format("{}.{}", at, k.str()),
                                  "unknown key (expected host, port)");
            }
        }
        if (!t->contains("port"))
            throw ConfigError(file, at + ".port", "missing (every replica needs a port)");
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace sg
