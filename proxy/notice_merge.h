// NoticeResponses of one statement that ran on several shards, as one PostgreSQL holding all
// rows would send them (protocol logic, no I/O).
//
// A notice about the statement itself (DROP TABLE IF EXISTS "... does not exist, skipping", a
// DDL notice) comes once from every shard: one PostgreSQL sends it once. So each distinct
// notice (same fields, byte for byte) is passed on as many times as the shard that sent it
// most often, in the order first seen, never once per shard. (A notice raised once per row
// by a function may then come fewer times than one PostgreSQL would send it; it is never
// repeated per shard.)
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sg::proxy {

// `per_shard`: each shard's NoticeResponse frames, concatenated. Returns the frames to send.
std::string merge_notices(const std::vector<std::string_view>& per_shard);

}  // namespace sg::proxy
