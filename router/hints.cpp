#include "router/hints.h"

namespace sg::router {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Reads `name=value` pairs inside one comment body.
void read_comment(std::string_view body, Hints& out) {
    static constexpr std::string_view kPrefix = "shardgate.";
    size_t pos = 0;
    while ((pos = body.find(kPrefix, pos)) != std::string_view::npos) {
        size_t name_start = pos + kPrefix.size();
        size_t eq = name_start;
        while (eq < body.size() && body[eq] != '=' && !is_space(body[eq])) ++eq;
        std::string_view name = body.substr(name_start, eq - name_start);
        size_t v = eq;
        while (v < body.size() && is_space(body[v])) ++v;
        if (v >= body.size() || body[v] != '=') {
            pos = eq;
            continue;
        }
        ++v;
        while (v < body.size() && is_space(body[v])) ++v;
        std::string value;
        if (v < body.size() && (body[v] == '\'' || body[v] == '"')) {
            char q = body[v++];
            size_t close = body.find(q, v);
            if (close == std::string_view::npos) close = body.size();
            value = std::string(body.substr(v, close - v));
            pos = close;
        } else {
            size_t end = v;
            while (end < body.size() && !is_space(body[end]) && body[end] != ',') ++end;
            value = std::string(body.substr(v, end - v));
            pos = end;
        }
        if (value.empty()) continue;
        if (name == "shard") out.shard = std::move(value);
        if (name == "key") out.key = std::move(value);
        if (name == "read_from") out.read_from = std::move(value);
    }
}

}  // namespace

Hints scan_hints(std::string_view sql) {
    Hints out;
    if (sql.find("shardgate.") == std::string_view::npos) return out;  // the common case
    size_t i = 0;
    while (i < sql.size()) {
        char c = sql[i];
        if (c == '\'' || c == '"') {  // skip literals and quoted identifiers ('' doubles)
            size_t close = sql.find(c, i + 1);
            i = close == std::string_view::npos ? sql.size() : close + 1;
        } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            size_t nl = sql.find('\n', i);
            i = nl == std::string_view::npos ? sql.size() : nl + 1;
        } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            size_t close = sql.find("*/", i + 2);
            size_t end = close == std::string_view::npos ? sql.size() : close;
            read_comment(sql.substr(i + 2, end - i - 2), out);
            i = close == std::string_view::npos ? sql.size() : close + 2;
        } else {
            ++i;
        }
    }
    return out;
}

}  // namespace sg::router
