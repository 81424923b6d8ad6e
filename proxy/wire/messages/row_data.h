// Result rows: RowDescription (the shape) and DataRow (one row, columns as views).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/wire/bytes.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/status.h"
#include "proxy/wire/writer.h"

namespace sg::wire {

struct FieldDescription {
    std::string_view name;
    std::uint32_t table_oid = 0;   // 0 when the column is not a table column
    std::int16_t column_attr = 0;  // attribute number in that table, else 0
    std::uint32_t type_oid = 0;
    std::int16_t type_size = 0;  // pg_type.typlen; negative for variable width
    std::int32_t type_modifier = -1;
    std::int16_t format = 0;  // 0 text, 1 binary (0 in a Describe reply: not known yet)
};

struct RowDescription {
    static constexpr char kType = be::kRowDescription;
    std::vector<FieldDescription> fields;
};

Status decode(Bytes body, RowDescription& out);
void encode(const RowDescription& msg, MessageWriter& w);

struct DataRow {
    static constexpr char kType = be::kDataRow;
    std::vector<Value> columns;  // std::nullopt is NULL
};

// Reuses `out.columns`' capacity: decoding rows into one DataRow does not allocate per row.
Status decode(Bytes body, DataRow& out);
void encode(const DataRow& msg, MessageWriter& w);
// Encodes a row straight from values held elsewhere (e.g. a merge), without a DataRow.
void encode_data_row(std::span<const Value> columns, MessageWriter& w);

}  // namespace sg::wire
