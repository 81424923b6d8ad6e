// Manual routing hints written in SQL comments, for what the parser cannot see:
//   /* shardgate.shard=s2 */   run on shard s2
//   /* shardgate.key=42 */     route as if the shard key were 42
//   /* shardgate.read_from=replica */  a read outside a transaction may use a standby
//                              (primary | replica | any; see common/replica_config.h)
// Found by scanning the raw text (cheap, and works on statements that do not parse). Values
// may be quoted with ' or ". Only block comments count: a hint in a string literal or after
// `--` is data, not a hint.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sg::router {

struct Hints {
    std::optional<std::string> shard;
    std::optional<std::string> key;
    std::optional<std::string> read_from;
    bool operator==(const Hints&) const = default;
};

Hints scan_hints(std::string_view sql);

}  // namespace sg::router
