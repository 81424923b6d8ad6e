#include "proxy/merge_types.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "common/pg_types.h"

namespace sg::proxy {

// Type names for the literals of a combining query: the types count/sum/min/max return over
// common columns. Text-like types are left out on purpose: min/max over them depend on the
// column's collation, which the combining query would not have.
const char* mergeable_type_name(uint32_t oid) {
    switch (oid) {
        case pg_type::kInt8:
            return "int8";
        case pg_type::kInt2:
            return "int2";
        case pg_type::kInt4:
            return "int4";
        case pg_type::kOid:
            return "oid";
        case pg_type::kFloat4:
            return "float4";
        case pg_type::kFloat8:
            return "float8";
        case pg_type::kMoney:
            return "money";
        case pg_type::kNumeric:
            return "numeric";
        case pg_type::kDate:
            return "date";
        case pg_type::kTime:
            return "time";
        case pg_type::kTimestamp:
            return "timestamp";
        case pg_type::kTimestamptz:
            return "timestamptz";
        case pg_type::kInterval:
            return "interval";
        case pg_type::kTimetz:
            return "timetz";
        default:
            return nullptr;
    }
}

// A GROUP BY column is only compared for equality again: text-like types are fine there.
const char* groupable_type_name(uint32_t oid) {
    switch (oid) {
        case pg_type::kBool:
            return "bool";
        case pg_type::kName:
            return "name";
        case pg_type::kText:
            return "text";
        case pg_type::kBpchar:
            return "bpchar";
        case pg_type::kVarchar:
            return "varchar";
        case pg_type::kUuid:
            return "uuid";
        default:
            return mergeable_type_name(oid);
    }
}

// Types whose order does not depend on a collation: ORDER BY keys the combining query can sort.
const char* orderable_type_name(uint32_t oid) {
    switch (oid) {
        case pg_type::kBool:
            return "bool";
        case pg_type::kUuid:
            return "uuid";
        default:
            return mergeable_type_name(oid);
    }
}

// A binary-format value as PostgreSQL's text output would spell it, for the types an ORDER BY
// or DISTINCT key may have; nullopt for the others.
std::optional<std::string> binary_as_text(uint32_t oid, std::string_view v) {
    auto be = [&](size_t n) {
        uint64_t x = 0;
        for (size_t i = 0; i < n; ++i) x = (x << 8) | uint8_t(v[i]);
        return x;
    };
    auto civil = [](int64_t days, int& y, unsigned& m, unsigned& d) {  // days since 1970-01-01
        days += 719468;
        const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
        const unsigned doe = unsigned(days - era * 146097);
        const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        const unsigned mp = (5 * doy + 2) / 153;
        d = doy - (153 * mp + 2) / 5 + 1;
        m = mp < 10 ? mp + 3 : mp - 9;
        y = int(yoe + era * 400) + (m <= 2);
    };
    constexpr int64_t kEpoch2000 = 10957;  // days from 1970-01-01 to 2000-01-01
    switch (oid) {
        case pg_type::kBool:
            return v.size() == 1 ? std::optional<std::string>(v[0] ? "true" : "false")
                                 : std::nullopt;
        case pg_type::kInt2:
            return v.size() == 2 ? std::optional<std::string>(std::to_string(int16_t(be(2))))
                                 : std::nullopt;
        case pg_type::kInt4:
            return v.size() == 4 ? std::optional<std::string>(std::to_string(int32_t(be(4))))
                                 : std::nullopt;
        case pg_type::kInt8:
            return v.size() == 8 ? std::optional<std::string>(std::to_string(int64_t(be(8))))
                                 : std::nullopt;
        case pg_type::kFloat4:
        case pg_type::kFloat8: {
            double x;
            if (v.size() == 4) {
                uint32_t bits = uint32_t(be(4));
                float f;
                std::memcpy(&f, &bits, 4);
                x = f;
            } else if (v.size() == 8) {
                uint64_t bits = be(8);
                std::memcpy(&x, &bits, 8);
            } else {
                return std::nullopt;
            }
            if (std::isnan(x)) return "NaN";
            if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
            return fmt::format("{}", x);  // shortest text that reads back as the same value
        }
        case pg_type::kUuid: {
            if (v.size() != 16) return std::nullopt;
            std::string out;
            for (size_t i = 0; i < 16; ++i) {
                if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
                out += fmt::format("{:02x}", uint8_t(v[i]));
            }
            return out;
        }
        case pg_type::kDate: {
            if (v.size() != 4) return std::nullopt;
            int32_t days = int32_t(be(4));
            if (days == INT32_MAX) return "infinity";
            if (days == INT32_MIN) return "-infinity";
            int y;
            unsigned m, d;
            civil(days + kEpoch2000, y, m, d);
            if (y < 1) return std::nullopt;
            return fmt::format("{:04}-{:02}-{:02}", y, m, d);
        }
        case pg_type::kTimestamp:
        case pg_type::kTimestamptz: {
            if (v.size() != 8) return std::nullopt;
            int64_t us = int64_t(be(8));
            if (us == INT64_MAX) return "infinity";
            if (us == INT64_MIN) return "-infinity";
            constexpr int64_t kDay = 86400000000LL;
            int64_t days = us >= 0 ? us / kDay : -((-us + kDay - 1) / kDay);
            int64_t rest = us - days * kDay;
            int y;
            unsigned m, d;
            civil(days + kEpoch2000, y, m, d);
            if (y < 1) return std::nullopt;
            return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}{}", y, m, d,
                               rest / 3600000000LL, rest / 60000000LL % 60, rest / 1000000 % 60,
                               rest % 1000000, oid == pg_type::kTimestamptz ? "+00" : "");
        }
        default:
            return std::nullopt;
    }
}

std::optional<std::string> type_with_modifier(uint32_t oid, int32_t typmod, const char* name) {
    if (typmod < 0) return std::string(name);
    switch (oid) {
        case pg_type::kNumeric: {  // numeric(p,s): ((p << 16) | s) + VARHDRSZ
            const int32_t t = typmod - 4;
            if (t < 0) return std::nullopt;
            return fmt::format("numeric({},{})", (t >> 16) & 0xffff, int16_t(t & 0xffff));
        }
        case pg_type::kBpchar:  // bpchar(n) / varchar(n): n + VARHDRSZ
        case pg_type::kVarchar:
            if (typmod < 4) return std::nullopt;
            return fmt::format("{}({})", name, typmod - 4);
        case pg_type::kTime:  // time(p), timestamp(p), timestamptz(p), timetz(p): p
        case pg_type::kTimestamp:
        case pg_type::kTimestamptz:
        case pg_type::kTimetz:
            return fmt::format("{}({})", name, typmod);
        default:
            return std::nullopt;
    }
}

}  // namespace sg::proxy
