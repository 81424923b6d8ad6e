// Sans-io codec for the logical replication stream: the walsender's CopyBoth framing
// ('w' XLogData, 'k' keepalive, 'r' standby status update) and pgoutput protocol version 1
// messages (Begin, Commit, Relation, Insert, Update, Delete, Truncate, logical Message).
// Decoding validates lengths and never reads past the buffer; a malformed message is an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/result.h"

namespace sg::rebalance {

// One column of a replicated tuple: null ('n'), unchanged TOASTed value not sent ('u'), text.
struct TupleColumn {
    enum class Kind : char { Null = 'n', Unchanged = 'u', Text = 't' };
    Kind kind = Kind::Null;
    std::string value;
    bool operator==(const TupleColumn&) const = default;
};
using Tuple = std::vector<TupleColumn>;

struct RelationMsg {
    uint32_t relid = 0;
    std::string nspname, relname;
    std::vector<std::string> columns;
    std::vector<bool> key;  // column is part of the replica identity
};

struct ChangeMsg {
    enum class Kind { Insert, Update, Delete };
    Kind kind = Kind::Insert;
    uint32_t relid = 0;
    std::optional<Tuple> old_tuple;  // Update/Delete: 'K' (key columns only) or 'O' (full)
    bool old_is_key_only = false;
    Tuple new_tuple;  // Insert/Update
};

struct PgOutputMsg {
    enum class Type { Begin, Commit, Relation, Change, Message, Truncate, Ignored };
    Type type = Type::Ignored;
    uint64_t lsn = 0;  // Commit: end LSN of the transaction; Message: its LSN
    RelationMsg relation;
    ChangeMsg change;
    std::string prefix, content;      // Message
    std::vector<uint32_t> truncated;  // Truncate: relids
};

router::Expected<PgOutputMsg> decode_pgoutput(std::string_view payload);

// A CopyData message of the replication stream.
struct StreamFrame {
    enum class Type { XLogData, Keepalive };
    Type type = Type::XLogData;
    uint64_t wal_start = 0, wal_end = 0;
    bool reply_requested = false;
    std::string_view payload;  // XLogData: the pgoutput message (points into the input)
};
router::Expected<StreamFrame> decode_frame(std::string_view data);

// 'r' standby status update reporting `flushed` as written, flushed and applied.
std::string encode_status_update(uint64_t flushed, int64_t now_us_since_2000);

std::string format_lsn(uint64_t lsn);
std::optional<uint64_t> parse_lsn(std::string_view text);

// Encoders for tests (the walsender is the only producer in production).
std::string encode_int(uint64_t v, int bytes);

}  // namespace sg::rebalance
