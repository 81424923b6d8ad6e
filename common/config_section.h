// Reading one TOML table of a config file with typed getters, environment overrides and
// unknown-key detection; used by common/config.cpp only, so that toml++ stays out of config.h.
#pragma once

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/config.h"

namespace sg::config_detail {

// Reads one TOML table, remembering which keys were consumed so that anything left over is
// reported as unknown (a typo must not silently fall back to a default).
class Section {
public:
    Section(const std::string& file, std::string path, const toml::table* tbl, const EnvMap* env,
            std::string env_prefix)
        : file_(file),
          path_(std::move(path)),
          tbl_(tbl),
          env_(env),
          env_prefix_(std::move(env_prefix)) {}

    std::string key_name(std::string_view key) const {
        return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
    }

    [[noreturn]] void fail(std::string_view key, std::string problem) const {
        throw ConfigError(file_, key_name(key), std::move(problem));
    }

    void get(std::string_view key, std::string& out) {
        if (auto v = env_value(key)) {
            out = *v;
            return;
        }
        if (const toml::node* n = node(key)) {
            auto s = n->value<std::string>();
            if (!n->is_string() || !s)
                fail(key, fmt::format("expected a string, got {}", type_name(*n)));
            out = *s;
        }
    }

    template <typename Int>
    void get_int(std::string_view key, Int& out, int64_t lo, int64_t hi) {
        int64_t v = static_cast<int64_t>(out);
        bool present = false;
        if (auto e = env_value(key)) {
            char* end = nullptr;
            errno = 0;
            long long parsed = std::strtoll(e->c_str(), &end, 10);
            if (e->empty() || *end != '\0' || errno != 0)
                fail(key, fmt::format("environment override {} is not an integer: '{}'",
                                      env_name(key), *e));
            v = parsed;
            present = true;
        } else if (const toml::node* n = node(key)) {
            if (!n->is_integer())
                fail(key, fmt::format("expected an integer, got {}", type_name(*n)));
            v = *n->value<int64_t>();
            present = true;
        }
        if (present && (v < lo || v > hi))
            fail(key, fmt::format("{} is out of range [{}, {}]", v, lo, hi));
        out = static_cast<Int>(v);
    }

    void get(std::string_view key, bool& out) {
        if (auto e = env_value(key)) {
            if (*e == "true" || *e == "1" || *e == "on")
                out = true;
            else if (*e == "false" || *e == "0" || *e == "off")
                out = false;
            else
                fail(key, fmt::format("environment override {} is not a boolean: '{}'",
                                      env_name(key), *e));
            return;
        }
        if (const toml::node* n = node(key)) {
            if (!n->is_boolean())
                fail(key, fmt::format("expected a boolean, got {}", type_name(*n)));
            out = *n->value<bool>();
        }
    }

    const std::string& file() const { return file_; }

    // The raw node of `key` (marked as read), for values the typed getters do not cover.
    const toml::node* raw(std::string_view key) { return node(key); }

    void get(std::string_view key, std::optional<ReadFrom>& out) {
        std::string v;
        if (!has(key)) {
            node(key);
            return;
        }
        get(key, v);
        out = parse_read_from(v);
        if (!out) fail(key, fmt::format("'{}' is not one of: primary, replica, any", v));
    }

    bool has(std::string_view key) const { return (tbl_ && tbl_->contains(key)) || env_value(key); }

    void reject_unknown() const {
        if (!tbl_) return;
        for (const auto& [k, v] : *tbl_) {
            if (!seen_.count(std::string(k.str())))
                throw ConfigError(file_, key_name(k.str()), "unknown key");
        }
    }

private:
    static const char* type_name(const toml::node& n) {
        switch (n.type()) {
            case toml::node_type::string:
                return "a string";
            case toml::node_type::integer:
                return "an integer";
            case toml::node_type::floating_point:
                return "a float";
            case toml::node_type::boolean:
                return "a boolean";
            case toml::node_type::array:
                return "an array";
            case toml::node_type::table:
                return "a table";
            default:
                return "a date/time";
        }
    }

    std::string env_name(std::string_view key) const {
        std::string n = env_prefix_ + std::string(key);
        std::transform(n.begin(), n.end(), n.begin(), ::toupper);
        return n;
    }

    std::optional<std::string> env_value(std::string_view key) const {
        seen_.insert(std::string(key));
        if (!env_ || env_prefix_.empty()) return std::nullopt;
        auto it = env_->find(env_name(key));
        if (it == env_->end()) return std::nullopt;
        return it->second;
    }

    const toml::node* node(std::string_view key) {
        seen_.insert(std::string(key));
        return tbl_ ? tbl_->get(key) : nullptr;
    }

    const std::string& file_;
    std::string path_;
    const toml::table* tbl_;
    const EnvMap* env_;
    std::string env_prefix_;
    mutable std::set<std::string> seen_;
};

inline const toml::table* subtable(const std::string& file, const toml::table& root,
                                   std::string_view name) {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table())
        throw ConfigError(file, std::string(name),
                          "expected a table ([" + std::string(name) + "])");
    return n->as_table();
}

inline const toml::array* array_of_tables(const std::string& file, const toml::table& root,
                                          std::string_view name) {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_array_of_tables())
        throw ConfigError(file, std::string(name),
                          "expected an array of tables ([[" + std::string(name) + "]])");
    return n->as_array();
}

}  // namespace sg::config_detail
