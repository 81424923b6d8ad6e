// Splits COPY ... FROM STDIN (FORMAT binary) data into tuples as CopyData chunks arrive,
// extracting each tuple's shard-key field (protocol logic, no I/O). Chunks may cut the header
// and tuples anywhere; the splitter keeps the unfinished part.
//
// The stream is PostgreSQL's binary COPY format: a header (the 11-byte signature, 32-bit
// flags, a 32-bit header-extension length and that many bytes), tuples (a 16-bit field count,
// then per field a 32-bit length, -1 for NULL, and that many bytes), and an optional trailer
// (a field count of -1). The header and the trailer come out as rows marked `header`: every
// shard gets them; each tuple goes to its key's shard, its key as the field's binary bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "router/copy_split.h"
#include "router/result.h"

namespace sg::router {

class BinaryCopySplitter {
public:
    explicit BinaryCopySplitter(int key_column) : key_column_(key_column) {}

    // Appends the header, tuples and trailer completed by `chunk` to `out`. After an error
    // the splitter is stuck.
    Status feed(std::string_view chunk, std::vector<CopyRow>& out);
    // CopyDone: the data must end at a tuple boundary, after the header.
    Status finish(std::vector<CopyRow>& out);

    uint64_t rows_seen() const { return rows_; }
    bool ended() const { return ended_; }

private:
    Status fail(std::string message);

    int key_column_;
    std::string buf_;  // bytes received and not yet cut into a row
    bool header_done_ = false;
    bool ended_ = false;  // the trailer came: later bytes are ignored
    bool failed_ = false;
    uint64_t rows_ = 0;
};

}  // namespace sg::router
