// The normative bucket hash (architecture.md, "The bucket hash"): a shard-key value becomes
// canonical bytes according to the table's declared key type, whatever form it arrived in;
// h = XXH3_64bits(bytes) with seed 0; bucket = h & (2^bucket_bits - 1); NULL is bucket 0.
// This file is the only place placement is computed; the rebalancer and tools call it too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"
#include "router/result.h"

namespace sg::router {

// A shard-key value in canonical form. Invariant: when `null` is false, `bytes` holds exactly
// the canonical bytes of the spec (8 little-endian bytes for integer types, 16 RFC 4122 bytes
// for uuid, the unchanged UTF-8 bytes for text/varchar).
struct Key {
    bool null = false;
    std::string bytes;

    static Key null_key() { return Key{true, {}}; }
    bool operator==(const Key&) const = default;
};

// Wire format of a Bind parameter (PostgreSQL format codes 0 and 1).
enum class ParamFormat : uint8_t { Text = 0, Binary = 1 };

bool is_integer_key(KeyType t);

// Canonical key of a signed integer (any integer key type), range-checked for `t`.
Expected<Key> canonical_int(KeyType t, int64_t v);
// Canonical key from text: an SQL literal's value (quotes already removed) or a text-format
// parameter. Accepts what PostgreSQL's input functions accept (int2in/int4in/int8in: optional
// surrounding spaces and sign; uuid_in: any case, optional braces, hyphens between 4-digit
// groups); anything else is the error PostgreSQL would raise (22P02 / 22003).
Expected<Key> canonical_from_text(KeyType t, std::string_view text);
// Canonical key from a binary-format parameter: 2, 4 or 8 big-endian bytes for integer types
// (the client may bind int2/int4/int8 to any integer key), 16 bytes for uuid, raw bytes for text.
Expected<Key> canonical_from_binary(KeyType t, std::string_view bytes);

// A bigint as PostgreSQL reads one bound in this format (int8in; binary: 2, 4 or 8 big-endian
// bytes, as a client binds int2/int4/int8), or the error it would raise.
Expected<int64_t> bigint_value(ParamFormat f, std::string_view value);

// XXH3_64bits of the canonical bytes, seed 0. Meaningless for a NULL key (see bucket_of_key).
uint64_t key_hash(std::string_view canonical_bytes);

inline uint32_t bucket_of_hash(uint64_t h, int bucket_bits) {
    return static_cast<uint32_t>(h & ((uint64_t{1} << bucket_bits) - 1));
}

// The bucket of a key: NULL lands in bucket 0.
inline uint32_t bucket_of_key(const Key& k, int bucket_bits) {
    return k.null ? 0 : bucket_of_hash(key_hash(k.bytes), bucket_bits);
}

// Human-readable rendering of a canonical key (integers in decimal, uuid in 8-4-4-4-12 form,
// text as is) for explanations and logs.
std::string display_key(KeyType t, const Key& k);

}  // namespace sg::router
