// HAVING of a combined SELECT with parameters (`HAVING count(*) > $1`): the combining query
// applies it to the combined groups (proxy/merge_combine.h) but has no Bind of its own, so
// each $n becomes the literal of this execution's value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/wire/messages/extended_query.h"

namespace sg::proxy {

// `having` with every $n outside quotes replaced by the bound value as a literal: typed by the
// type the client declared (`types`, from its Parse), else untyped ('5'), which PostgreSQL
// resolves from its context as it would the parameter. nullopt, with `why` set, when a value
// cannot be written so (a binary value of a type other than an integer, an undeclared
// parameter number, a declared type the proxy cannot name).
std::optional<std::string> bind_having_params(std::string_view having, const wire::Bind* bind,
                                              const std::vector<uint32_t>* types, std::string& why);

// Which of $1..$n `sql` mentions (outside quotes): the shards' statement of a merged SELECT
// drops HAVING, and a parameter only HAVING used must still get a type in the shards' Parse.
std::vector<bool> mentioned_params(std::string_view sql, size_t n);
// Gives every parameter of `bind` that `sql` does not mention and `types` leaves undeclared a
// type that takes any value in its format (text, or bytea for binary), so the shards' Parse of
// `sql` accepts the client's Bind.
void declare_unused_params(std::vector<uint32_t>& types, std::string_view sql,
                           const wire::Bind& bind);

}  // namespace sg::proxy
