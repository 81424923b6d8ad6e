// The rows of a SELECT merged across shards (proxy/merge_combine.h): the shards' answers read
// into rows, and the combined answer the client gets.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/wire/messages/row_data.h"

namespace sg::proxy {

// The shards' answers to one merged SELECT, as run_fanout concatenated them.
struct ShardRows {
    std::string notices;          // NoticeResponses, passed on before the answer
    std::string row_description;  // the 'T' frame as the shards sent it
    wire::RowDescription desc;
    std::vector<std::string_view> frames;  // each DataRow frame, as sent
    std::vector<std::vector<std::optional<std::string>>> rows;
};

// Reads `reply`; false when it is not a plain result (an error, or frames that do not decode).
bool read_shard_rows(const std::string& reply, ShardRows& out);

// The combined answer: the client's RowDescription and DataRows, or an ErrorResponse frame
// (the merge was refused, or the combining query failed).
struct MergedRows {
    std::string error;
    std::string row_description;
    std::string rows;
    size_t count = 0;
};

// A CommandComplete "SELECT n".
void append_select_tag(std::string& out, size_t count);

}  // namespace sg::proxy
