// PostgreSQL's built-in type OIDs (pg_type.oid, fixed by PostgreSQL's catalog: the same in
// every release), named once for every layer: the wire layer describes result columns with
// them, the router reads parameter types, the merges choose how to combine a column. A type
// the proxy never looks at by its OID has no constant here.
#pragma once

#include <cstdint>

namespace sg::pg_type {

inline constexpr std::uint32_t kUnspecified = 0;  // a parameter whose type the server infers
inline constexpr std::uint32_t kBool = 16;
inline constexpr std::uint32_t kBytea = 17;
inline constexpr std::uint32_t kName = 19;
inline constexpr std::uint32_t kInt8 = 20;
inline constexpr std::uint32_t kInt2 = 21;
inline constexpr std::uint32_t kInt4 = 23;
inline constexpr std::uint32_t kText = 25;
inline constexpr std::uint32_t kOid = 26;
inline constexpr std::uint32_t kFloat4 = 700;
inline constexpr std::uint32_t kFloat8 = 701;
inline constexpr std::uint32_t kUnknown = 705;
inline constexpr std::uint32_t kMoney = 790;
inline constexpr std::uint32_t kBpchar = 1042;
inline constexpr std::uint32_t kVarchar = 1043;
inline constexpr std::uint32_t kDate = 1082;
inline constexpr std::uint32_t kTime = 1083;
inline constexpr std::uint32_t kTimestamp = 1114;
inline constexpr std::uint32_t kTimestamptz = 1184;
inline constexpr std::uint32_t kInterval = 1186;
inline constexpr std::uint32_t kTimetz = 1266;
inline constexpr std::uint32_t kNumeric = 1700;
inline constexpr std::uint32_t kUuid = 2950;
// Arrays of them (a shard-key parameter of `key = ANY($1)`).
inline constexpr std::uint32_t kInt4Array = 1007;
inline constexpr std::uint32_t kBpcharArray = 1014;
inline constexpr std::uint32_t kInt8Array = 1016;
inline constexpr std::uint32_t kFloat4Array = 1021;
inline constexpr std::uint32_t kFloat8Array = 1022;
inline constexpr std::uint32_t kNumericArray = 1231;

}  // namespace sg::pg_type
