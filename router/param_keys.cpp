#include "router/param_keys.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "common/pg_types.h"
#include "router/pg_array.h"

namespace sg::router {
namespace {

using pg_type::kBpchar, pg_type::kFloat4, pg_type::kFloat8, pg_type::kInt2, pg_type::kInt4,
    pg_type::kInt8, pg_type::kName, pg_type::kNumeric, pg_type::kText, pg_type::kUnknown,
    pg_type::kUuid, pg_type::kVarchar;
using pg_type::kBpcharArray, pg_type::kFloat4Array, pg_type::kFloat8Array, pg_type::kInt4Array,
    pg_type::kInt8Array, pg_type::kNumericArray;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

const char* range_message(KeyType t) {
    return t == KeyType::SmallInt  ? "smallint out of range"
           : t == KeyType::Integer ? "integer out of range"
                                   : "bigint out of range";
}

// A decimal number as numeric_in reads it ([sign] digits [. digits] [e [sign] digits]), reduced
// to the integer it equals (`exact`) and the integer an assignment rounds it to (half away from
// zero, as numeric's int casts do). nullopt: not a finite number, or beyond int64.
struct Decimal {
    int64_t rounded = 0;
    bool exact = false;
};
std::optional<Decimal> read_decimal(std::string_view s) {
    s = trim(s);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    std::string digits;  // all significant digits, point removed
    int point = -1;      // digits before the point
    size_t i = 0;
    for (; i < s.size(); ++i) {
        if (s[i] >= '0' && s[i] <= '9')
            digits += s[i];
        else if (s[i] == '.' && point < 0)
            point = int(digits.size());
        else
            break;
    }
    if (digits.empty()) return std::nullopt;
    if (point < 0) point = int(digits.size());
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool eneg = false;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        if (i == s.size()) return std::nullopt;
        long e = 0;
        for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
            e = e * 10 + (s[i] - '0');
            if (e > 100000) return std::nullopt;
        }
        point += int(eneg ? -e : e);
    }
    if (i != s.size()) return std::nullopt;
    // Integer part: digits[0, point); fraction: the rest (digits before index 0 are zeros).
    unsigned __int128 whole = 0;
    for (int k = 0; k < point; ++k) {
        whole = whole * 10 + (k < int(digits.size()) ? unsigned(digits[size_t(k)] - '0') : 0u);
        if (whole > (unsigned __int128)INT64_MAX + 1) return std::nullopt;
    }
    bool fraction = false, round_up = false;
    for (int k = std::max(point, 0); k < int(digits.size()); ++k) {
        if (digits[size_t(k)] != '0') fraction = true;
        if (k == point && digits[size_t(k)] >= '5') round_up = true;
    }
    if (point < 0) round_up = false;  // 0.00x: below one half
    Decimal d;
    d.exact = !fraction;
    unsigned __int128 r = whole + (round_up ? 1 : 0);
    if (negative) {
        if (r > (unsigned __int128)INT64_MAX + 1) return std::nullopt;
        d.rounded = r == (unsigned __int128)INT64_MAX + 1 ? INT64_MIN : -int64_t(r);
    } else {
        if (r > (unsigned __int128)INT64_MAX) return std::nullopt;
        d.rounded = int64_t(r);
    }
    return d;
}

std::optional<double> read_float(ParamFormat f, std::string_view bytes, uint32_t oid) {
    if (f == ParamFormat::Binary) {
        uint64_t bits = 0;
        for (char c : bytes) bits = (bits << 8) | uint8_t(c);
        if (oid == kFloat4 && bytes.size() == 4) {
            float x;
            uint32_t b32 = uint32_t(bits);
            std::memcpy(&x, &b32, 4);
            return x;
        }
        if (oid == kFloat8 && bytes.size() == 8) {
            double x;
            std::memcpy(&x, &bits, 8);
            return x;
        }
        return std::nullopt;
    }
    std::string text(trim(bytes));
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    double x = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return std::nullopt;
    return x;
}

// An integer value of another integer type than the key's: compared, one outside the key type's
// range matches nothing; assigned, it fails as PostgreSQL's cast does.
Status integer_key(int64_t v, KeyType t, KeyUse use, ParamKeys& out) {
    auto k = canonical_int(t, v);
    if (k) {
        out.keys.push_back(std::move(k.value()));
        return Ok{};
    }
    if (use == KeyUse::Compare) return Ok{};
    return Error{sqlstate::kNumericValueOutOfRange, range_message(t)};
}

// A scalar parameter of a declared non-key type against an integer key. True when handled.
std::optional<Status> numeric_against_integer(ParamFormat f, std::string_view bytes, uint32_t oid,
                                              KeyType t, KeyUse use, ParamKeys& out) {
    if (oid == kInt2 || oid == kInt4 || oid == kInt8) {
        auto v = bigint_value(f, bytes);
        if (!v) return Status(v.error());
        return integer_key(*v, t, use, out);
    }
    if (oid == kNumeric) {
        std::optional<Decimal> d;
        if (f == ParamFormat::Text) d = read_decimal(bytes);
        if (!d) {  // NaN, Infinity, binary numerics, values beyond bigint: left to the shards
            if (use == KeyUse::Compare)
                out.unbounded = true;
            else
                return Status(
                    Error{sqlstate::kFeatureNotSupported,
                          "a numeric shard-key parameter must be a finite number in text format"});
            return Status(Ok{});
        }
        if (use == KeyUse::Compare && !d->exact) return Status(Ok{});  // 5.5 equals no integer
        return integer_key(d->rounded, t, use, out);
    }
    if (oid == kFloat4 || oid == kFloat8) {
        auto x = read_float(f, bytes, oid);
        // Beyond 2^53 several integers compare equal to one float: left to the shards.
        if (!x || !std::isfinite(*x) || std::fabs(*x) >= 9007199254740992.0) {
            if (use == KeyUse::Compare)
                out.unbounded = true;
            else
                return Status(
                    Error{sqlstate::kFeatureNotSupported,
                          "a float shard-key parameter must be a finite number below 2^53"});
            return Status(Ok{});
        }
        if (use == KeyUse::Compare) {
            if (std::trunc(*x) != *x) return Status(Ok{});
            return integer_key(int64_t(*x), t, use, out);
        }
        return integer_key(int64_t(std::nearbyint(*x)), t, use, out);  // float8 -> int: rint
    }
    return std::nullopt;
}

// Types whose binary send format is their text: such a value sent in binary is its text.
bool textual(uint32_t oid) {
    return oid == kText || oid == kVarchar || oid == kBpchar || oid == kName || oid == kUnknown;
}

// Whether a binary array's elements (array_send: ndim, flags, element oid, ...) are textual.
bool textual_elements(std::string_view bytes) {
    if (bytes.size() < 12) return false;
    uint32_t oid = 0;
    for (size_t i = 8; i < 12; ++i) oid = (oid << 8) | uint8_t(bytes[i]);
    return textual(oid);
}

// The integer a canonical integer key holds (8 little-endian bytes, hash.h).
int64_t key_int(const Key& k) {
    uint64_t u = 0;
    for (int i = 7; i >= 0; --i) u = (u << 8) | uint8_t(k.bytes[size_t(i)]);
    return int64_t(u);
}

}  // namespace

Status cast_param_keys(bool null, ParamFormat format, std::string_view bytes, uint32_t type_oid,
                       KeyType cast, KeyType t, KeyUse use, ParamKeys& out) {
    if (null) {
        out.keys.push_back(Key::null_key());
        return Ok{};
    }
    ParamKeys as_cast;
    if (textual(type_oid)) {
        // The cast reads the text with the target type's input function (in either format the
        // bytes are the text); bpchar loses its trailing spaces when converted to text/varchar.
        if (type_oid == kBpchar && !is_integer_key(cast))
            while (!bytes.empty() && bytes.back() == ' ') bytes.remove_suffix(1);
        auto k = canonical_from_text(cast, bytes);
        if (!k) return k.error();
        as_cast.keys.push_back(std::move(k.value()));
    } else if (type_oid == 0 || (type_oid == kUuid && cast == KeyType::Uuid)) {
        // Left to the server, the parameter takes the cast's type.
        auto k = format == ParamFormat::Text ? canonical_from_text(cast, bytes)
                                             : canonical_from_binary(cast, bytes);
        if (!k) return k.error();
        as_cast.keys.push_back(std::move(k.value()));
    } else if (is_integer_key(cast)) {
        // Integers, numeric (rounded), floats (rint), as the explicit cast converts them.
        auto st = numeric_against_integer(format, bytes, type_oid, cast, KeyUse::Assign, as_cast);
        if (!st) {
            if (use == KeyUse::Compare) {
                out.unbounded = true;
                return Ok{};
            }
            return Error{sqlstate::kFeatureNotSupported,
                         "a shard-key parameter cast to an integer type must be bound as an "
                         "integer, numeric, "
                         "float or text"};
        }
        if (!*st) return *st;
    } else {
        // Another type cast to text or uuid (an int4 `$1::text`): its output text is not what
        // was bound, so which keys match is left to the shards.
        if (use == KeyUse::Compare) {
            out.unbounded = true;
            return Ok{};
        }
        return Error{
            sqlstate::kFeatureNotSupported,
            "a shard-key parameter cast to the key's type must be bound as text or as that type"};
    }
    for (auto& k : as_cast.keys) {
        // A wider cast type than the key's (`int_key = $1::bigint`) compares across types: a
        // value outside the key type's range matches nothing; stored, it fails as the cast does.
        if (is_integer_key(t) && !k.null) {
            if (auto st = integer_key(key_int(k), t, use, out); !st) return st;
            continue;
        }
        out.keys.push_back(std::move(k));
    }
    return Ok{};
}

Status param_keys(bool null, ParamFormat format, std::string_view bytes, uint32_t type_oid,
                  bool array, KeyType t, KeyUse use, ParamKeys& out) {
    if (array) {
        if (null) return Ok{};  // = ANY(NULL) matches nothing
        const bool integer = is_integer_key(t);
        // Elements of a wider or non-integer type, or bpchar against text, are compared as
        // that type: which keys they match is not theirs read as the key type.
        const int key_width = t == KeyType::SmallInt ? 2 : t == KeyType::Integer ? 4 : 8;
        const bool cross_type =
            (integer && (type_oid == kNumericArray || type_oid == kFloat4Array ||
                         type_oid == kFloat8Array || (type_oid == kInt8Array && key_width < 8) ||
                         (type_oid == kInt4Array && key_width < 4))) ||
            (!integer && type_oid == kBpcharArray);
        // A scalar text type bound for an array (`= ANY($1::int[])`, $1 declared text) is the
        // array's text form in either format.
        if (format == ParamFormat::Binary && textual(type_oid)) format = ParamFormat::Text;
        // Binary text elements against a non-text key are converted by the shards' input
        // functions (spaces, signs, leading zeros): not read as the key's binary form.
        if (format == ParamFormat::Binary && !(t == KeyType::Text || t == KeyType::Varchar) &&
            textual_elements(bytes)) {
            out.unbounded = true;
            return Ok{};
        }
        const bool multi = format == ParamFormat::Text ? is_multidimensional_text_array(bytes)
                                                       : is_multidimensional_binary_array(bytes);
        if (multi || cross_type) {
            out.unbounded = true;  // compared element by element as another type: the shards decide
            return Ok{};
        }
        auto keys =
            format == ParamFormat::Text ? parse_text_array(t, bytes) : parse_binary_array(t, bytes);
        if (!keys) return keys.error();
        for (auto& k : *keys) out.keys.push_back(std::move(k));
        return Ok{};
    }
    if (null) {
        out.keys.push_back(Key::null_key());
        return Ok{};
    }
    if (is_integer_key(t)) {
        if (auto st = numeric_against_integer(format, bytes, type_oid, t, use, out)) return *st;
    } else if (type_oid == kBpchar) {
        // text = bpchar compares as text, without the bpchar's trailing spaces; varchar = bpchar
        // compares as bpchar, where neither side's trailing spaces count ('ab ' matches 'ab'),
        // so several stored keys may match. Stored into either, a bpchar loses its padding.
        if (t == KeyType::Varchar && use == KeyUse::Compare) {
            out.unbounded = true;
            return Ok{};
        }
        while (!bytes.empty() && bytes.back() == ' ') bytes.remove_suffix(1);
    }
    // A text type's binary form is its text.
    if (format == ParamFormat::Binary && textual(type_oid)) format = ParamFormat::Text;
    auto k = format == ParamFormat::Text ? canonical_from_text(t, bytes)
                                         : canonical_from_binary(t, bytes);
    if (!k) return k.error();
    out.keys.push_back(std::move(k.value()));
    return Ok{};
}

Expected<int64_t> bigint_param(ParamFormat format, std::string_view bytes, uint32_t type_oid) {
    if (type_oid != kNumeric && type_oid != kFloat4 && type_oid != kFloat8)
        return bigint_value(format, bytes);
    ParamKeys got;
    if (auto st =
            numeric_against_integer(format, bytes, type_oid, KeyType::BigInt, KeyUse::Assign, got);
        !st || !*st)
        return st ? st->error()
                  : Error{sqlstate::kInvalidTextRepresentation, "invalid bigint parameter"};
    const std::string& b = got.keys.front().bytes;  // 8 little-endian bytes (hash.h)
    uint64_t u = 0;
    for (int i = 7; i >= 0; --i) u = (u << 8) | uint8_t(b[size_t(i)]);
    return int64_t(u);
}

}  // namespace sg::router
