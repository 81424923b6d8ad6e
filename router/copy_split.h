// Splits COPY ... FROM STDIN data (text or CSV format) into rows as CopyData chunks arrive,
// extracting each row's shard-key field. Chunks may cut rows, fields, escapes and quoted
// newlines anywhere; the splitter holds at most one partial row between calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/analyzer.h"
#include "router/result.h"

namespace sg::router {

struct CopyRow {
    std::string data;                // the row's bytes as received, line terminator included
    std::optional<std::string> key;  // the decoded key field; nullopt when it is NULL
    bool header = false;             // CSV HEADER line: every shard expects it
    bool key_binary = false;         // `key` is the field's binary bytes (binary COPY)
};

class CopySplitter {
public:
    explicit CopySplitter(const CopyInfo& info);

    // Appends the rows completed by `chunk` to `out`. After an error the splitter is stuck.
    Status feed(std::string_view chunk, std::vector<CopyRow>& out);
    // CopyDone: a last row without a line terminator is completed.
    Status finish(std::vector<CopyRow>& out);

    // Bytes of the current partial row (the splitter's whole buffer).
    size_t buffered() const { return row_.size(); }
    uint64_t rows_seen() const { return rows_; }
    // The client sent the "\." end-of-data line; later bytes are ignored as PostgreSQL does.
    bool ended() const { return ended_; }

private:
    void consume_text(char c);
    void consume_csv(char c);
    Status end_row(std::vector<CopyRow>& out);
    void start_field();
    bool in_key_field() const { return field_ == info_.key_column; }

    CopyInfo info_;
    std::string row_;           // bytes of the partial row
    int field_ = 0;             // index of the field being read
    std::string key_raw_;       // the key field as written (escapes and quotes kept)
    std::string key_value_;     // CSV: the key field with quoting removed
    bool key_quoted_ = false;   // CSV: the key field had quotes (so it is never NULL)
    bool escaped_ = false;      // text: previous byte was a backslash
    bool in_quotes_ = false;    // CSV
    bool just_closed_ = false;  // CSV: previous byte closed a quote (a doubled quote reopens)
    bool csv_escaped_ = false;  // CSV: previous byte was ESCAPE inside quotes (ESCAPE != QUOTE)
    bool row_done_ = false;
    bool ended_ = false;
    bool failed_ = false;
    uint64_t rows_ = 0;
};

// Decodes a text-format COPY field's backslash escapes (\t, \n, \\, octal, \xHH ...).
std::string decode_copy_text(std::string_view raw);

}  // namespace sg::router
