// One-dimensional PostgreSQL arrays as they arrive in a Bind parameter, for `key = ANY($1)`.
#pragma once

#include <string_view>
#include <vector>

#include "router/hash.h"

namespace sg::router {

// Text format: `{1,2,3}`, `{"a b",c,NULL}`, optional `[lo:hi]=` dimension prefix.
// Each element is canonicalised as a key of type `t`.
Expected<std::vector<Key>> parse_text_array(KeyType t, std::string_view text);
// Whether a text-format array has more than one dimension (`{{1,2},{3,4}}`, `[1:1][1:2]={{..}}`):
// such arrays are not read as key lists (PostgreSQL's = ANY compares every element).
bool is_multidimensional_text_array(std::string_view text);
// Whether a binary-format array (array_send) has more than one dimension.
bool is_multidimensional_binary_array(std::string_view bytes);

// Binary format (array_send): ndim, has-null flag, element oid, per dimension (size, lower
// bound), then each element as a 4-byte length (-1 for NULL) and its binary bytes.
Expected<std::vector<Key>> parse_binary_array(KeyType t, std::string_view bytes);

}  // namespace sg::router
