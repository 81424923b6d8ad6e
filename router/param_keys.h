// A bound parameter read as shard-key values, by the type the client declared for it in Parse.
// PostgreSQL does not always compare (or store) such a value as the key column's own type:
// a bpchar loses its trailing spaces when it meets text, a numeric or float8 is compared with
// an integer key across types (5.0 matches 5, 5.5 matches nothing), an int8 above the key
// type's range matches nothing instead of failing, and an INSERT rounds a numeric to the
// integer column. Reading every parameter as the key type would route such statements to the
// wrong shard or fail where PostgreSQL answers.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "router/hash.h"
#include "router/result.h"

namespace sg::router {

// How the statement uses the value: compared with the key column (WHERE, = ANY), or stored
// in it (INSERT VALUES, SET key = $n), which applies PostgreSQL's assignment cast.
enum class KeyUse : uint8_t { Compare, Assign };

struct ParamKeys {
    std::vector<Key> keys;   // the key values the parameter stands for (none: matches nothing)
    bool unbounded = false;  // the router cannot tell which keys match: every shard may hold rows
};

// One parameter (`array`: for `= ANY($n)`) of declared type `type_oid` (0: left to the server,
// which then gives it the key column's type) against a key of type `t`. A NULL parameter is
// the NULL key (or no key, for an array). Errors are those PostgreSQL raises for the value.
Status param_keys(bool null, ParamFormat format, std::string_view bytes, uint32_t type_oid,
                  bool array, KeyType t, KeyUse use, ParamKeys& out);

// A scalar parameter written with one explicit cast in the key's family (`$1::integer`,
// `$1::text`): the value the cast produces from the declared type, then compared with (or
// stored into) the key of type `t`.
Status cast_param_keys(bool null, ParamFormat format, std::string_view bytes, uint32_t type_oid,
                       KeyType cast, KeyType t, KeyUse use, ParamKeys& out);

// A parameter of declared type `type_oid` as PostgreSQL converts it to bigint for LIMIT/OFFSET:
// integers as they are, numeric rounded half away from zero, float4/float8 rounded half to even.
Expected<int64_t> bigint_param(ParamFormat format, std::string_view bytes, uint32_t type_oid);

}  // namespace sg::router
