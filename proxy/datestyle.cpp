#include "proxy/datestyle.h"

#include <strings.h>

#include <vector>

namespace sg::proxy {
namespace {

// Keywords, lower-cased, quotes removed: "'Postgres', MDY" -> {postgres, mdy}.
std::vector<std::string> tokens(std::string_view v) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : v) {
        if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\'' || c == '"') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
            continue;
        }
        cur += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

const char* style_of(const std::string& t) {
    if (t == "iso") return "ISO";
    if (t == "sql") return "SQL";
    if (t == "postgres") return "Postgres";
    if (t == "german") return "German";
    return nullptr;
}

const char* order_of(const std::string& t) {
    if (t == "ymd") return "YMD";
    if (t == "dmy" || t == "euro" || t == "european") return "DMY";
    if (t == "mdy" || t == "us" || t == "noneuro" || t == "noneuropean") return "MDY";
    return nullptr;
}

}  // namespace

std::optional<std::string> complete_datestyle(std::string_view previous, std::string_view value) {
    std::string style = "ISO", order = "MDY";
    for (const auto& t : tokens(previous)) {
        if (const char* s = style_of(t)) style = s;
        if (const char* o = order_of(t)) order = o;
    }
    const char* new_style = nullptr;
    const char* new_order = nullptr;
    for (const auto& t : tokens(value)) {
        const char* s = style_of(t);
        const char* o = order_of(t);
        if (!s && !o) return std::nullopt;  // DEFAULT or not a keyword
        if ((s && new_style && std::string_view(s) != new_style) ||
            (o && new_order && std::string_view(o) != new_order))
            return std::nullopt;  // conflicting: PostgreSQL rejects it
        if (s) new_style = s;
        if (o) new_order = o;
    }
    if (!new_style && !new_order) return std::nullopt;
    if (new_style) style = new_style;
    if (new_order)
        order = new_order;
    else if (new_style && std::string_view(new_style) == "German")
        order = "DMY";
    return style + ", " + order;
}

std::string_view datestyle_of_statement(std::string_view statement) {
    constexpr std::string_view kPrefix = "SET datestyle TO ";
    if (statement.size() < kPrefix.size() ||
        strncasecmp(statement.data(), kPrefix.data(), kPrefix.size()) != 0)
        return {};
    return statement.substr(kPrefix.size());
}

}  // namespace sg::proxy
