// COPY ... TO STDOUT (FORMAT binary) answered by several shards, as one PostgreSQL holding all
// rows would send it (protocol logic, no I/O).
//
// A binary COPY stream is a header (the 11-byte signature, a 32-bit flags field, a 32-bit
// header-extension length and that many bytes), the tuples, and a trailer (a 16-bit -1).
// Concatenating the shards' streams as they are would put a header and a trailer in the
// middle: a client stops at the first trailer and silently loses every later shard's rows.
// So the joined stream keeps the first shard's header and one trailer at the end, and every
// tuple in between, in shard order. Each shard's CopyData frames are kept as they came (PG
// sends one per tuple); only the header bytes at the start of a later shard's first frames and
// the trailer bytes at the end of an earlier shard's last frames are cut, and a frame left
// empty is dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "router/result.h"

namespace sg::proxy {

// `per_shard`: each shard's CopyData ('d') frames of the statement, concatenated, in shard
// order. Returns the CopyData frames to send, or an error naming what was malformed.
router::Expected<std::string> join_binary_copy_out(const std::vector<std::string_view>& per_shard);

// True when a CopyOutResponse frame ('H', whole frame) announces the binary format.
bool copy_out_is_binary(std::string_view copy_out_response);

}  // namespace sg::proxy
