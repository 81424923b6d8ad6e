#include "proxy/having_params.h"

#include <cctype>

#include "common/pg_types.h"
#include "proxy/session_settings.h"

namespace sg::proxy {
namespace {

// SQL names of the parameter types a HAVING commonly compares with.
const char* type_name(uint32_t oid) {
    switch (oid) {
        case pg_type::kBool:
            return "bool";
        case pg_type::kInt8:
            return "int8";
        case pg_type::kInt2:
            return "int2";
        case pg_type::kInt4:
            return "int4";
        case pg_type::kText:
            return "text";
        case pg_type::kFloat4:
            return "float4";
        case pg_type::kFloat8:
            return "float8";
        case pg_type::kVarchar:
            return "varchar";
        case pg_type::kDate:
            return "date";
        case pg_type::kTimestamp:
            return "timestamp";
        case pg_type::kTimestamptz:
            return "timestamptz";
        case pg_type::kInterval:
            return "interval";
        case pg_type::kNumeric:
            return "numeric";
        default:
            return nullptr;
    }
}

// Copies `sql`, replacing each $n outside quotes by what `value(n)` returns (nullopt stops).
template <class Value>
std::optional<std::string> scan_params(std::string_view having, Value&& value) {
    std::string out;
    for (size_t i = 0; i < having.size();) {
        const char c = having[i];
        if (c == '\'' || c == '"') {  // a literal or quoted identifier: copied whole
            size_t end = i + 1;
            while (end < having.size()) {
                if (having[end] == c) {
                    if (end + 1 < having.size() && having[end + 1] == c) {
                        end += 2;
                        continue;
                    }
                    break;
                }
                ++end;
            }
            out.append(having.substr(i, end + 1 - i));
            i = end + 1;
            continue;
        }
        if (c != '$' || i + 1 >= having.size() ||
            !std::isdigit(static_cast<unsigned char>(having[i + 1])) ||
            (i > 0 &&
             (std::isalnum(static_cast<unsigned char>(having[i - 1])) || having[i - 1] == '_'))) {
            out += c;
            ++i;
            continue;
        }
        size_t end = i + 1, n = 0;
        while (end < having.size() && std::isdigit(static_cast<unsigned char>(having[end])) &&
               n < 100000)
            n = n * 10 + size_t(having[end++] - '0');
        auto v = value(n);
        if (!v) return std::nullopt;
        out += *v;
        i = end;
    }
    return out;
}

}  // namespace

std::vector<bool> mentioned_params(std::string_view sql, size_t n) {
    std::vector<bool> out(n, false);
    scan_params(sql, [&](size_t number) -> std::optional<std::string> {
        if (number >= 1 && number <= n) out[number - 1] = true;
        return std::string("NULL");
    });
    return out;
}

void declare_unused_params(std::vector<uint32_t>& types, std::string_view sql,
                           const wire::Bind& bind) {
    const size_t n = bind.params.size();
    const std::vector<bool> used = mentioned_params(sql, n);
    for (size_t i = 0; i < n; ++i) {
        if (used[i] || (i < types.size() && types[i] != 0)) continue;
        if (types.size() <= i) types.resize(i + 1, 0);
        types[i] = bind.param_format(i) == wire::FormatCode::Binary ? 17 : 25;  // bytea : text
    }
}

std::optional<std::string> bind_having_params(std::string_view having, const wire::Bind* bind,
                                              const std::vector<uint32_t>* types,
                                              std::string& why) {
    return scan_params(having, [&](size_t n) -> std::optional<std::string> {
        if (!bind || n == 0 || n > bind->params.size()) {
            why = "its HAVING uses $" + std::to_string(n) + ", which has no bound value";
            return std::nullopt;
        }
        const uint32_t type = types && n <= types->size() ? (*types)[n - 1] : 0;
        const char* name = type ? type_name(type) : nullptr;
        if (type && !name) {
            why = "its HAVING compares with $" + std::to_string(n) +
                  " of a type the proxy cannot name";
            return std::nullopt;
        }
        const wire::Value& v = bind->params[n - 1];
        std::string lit;
        if (!v) {
            lit = "NULL";
        } else if (bind->param_format(n - 1) == wire::FormatCode::Binary) {
            // Binary integers only (their width is their type).
            const std::string_view b = wire::as_chars(*v);
            if ((b.size() != 2 && b.size() != 4 && b.size() != 8) ||
                (type && type != 20 && type != 21 && type != 23)) {
                why = "its HAVING uses $" + std::to_string(n) + " bound in binary format";
                return std::nullopt;
            }
            uint64_t u = 0;
            for (char ch : b) u = (u << 8) | uint8_t(ch);
            int64_t x = b.size() == 2 ? int16_t(u) : b.size() == 4 ? int32_t(u) : int64_t(u);
            lit = "'" + std::to_string(x) + "'";
            if (!name) name = b.size() == 2 ? "int2" : b.size() == 4 ? "int4" : "int8";
        } else {
            lit = quote_sql_literal(wire::as_chars(*v));
        }
        return name ? "(" + lit + "::" + name + ")" : "(" + lit + ")";
    });
}

}  // namespace sg::proxy
