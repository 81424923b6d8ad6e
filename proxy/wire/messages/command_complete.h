// CommandComplete and its tag. A proxy that splits one statement over several shards must add
// up the row counts in the shards' tags and report one tag, so parsing and building tags lives
// here, next to the message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/wire/bytes.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/status.h"
#include "proxy/wire/writer.h"

namespace sg::wire {

struct CommandComplete {
    static constexpr char kType = be::kCommandComplete;
    std::string_view tag;  // "INSERT 0 5", "SELECT 7", "CREATE TABLE", ...
};

Status decode(Bytes body, CommandComplete& out);
void encode(const CommandComplete& msg, MessageWriter& w);

// A tag that reports rows: INSERT (as "INSERT 0 n", the 0 being the legacy oid), UPDATE,
// DELETE, SELECT, MERGE, MOVE, FETCH, COPY.
struct RowCountTag {
    std::string_view command;  // "INSERT", "UPDATE", ...
    std::uint64_t rows = 0;
};

// std::nullopt for tags without a row count ("BEGIN", "CREATE TABLE") or malformed counts.
std::optional<RowCountTag> parse_row_count_tag(std::string_view tag);

// Appends the tag PostgreSQL would send for `command` affecting `rows` rows.
void append_command_tag(std::string& out, std::string_view command, std::uint64_t rows);

// CommandComplete for a row count, written without an intermediate string.
void encode_command_complete(std::string_view command, std::uint64_t rows, MessageWriter& w);

}  // namespace sg::wire
