// What the rebalancer needs to know about each sharded table, read from a shard's catalog.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/config.h"
#include "rebalance/pg.h"

namespace sg::rebalance {

struct TableInfo {
    std::string name;  // as in [[tables]]
    std::string schema, relname;
    KeyType key_type = KeyType::BigInt;
    std::vector<std::string> columns;  // stored columns in attnum order (generated ones excluded)
    int key_column = -1;               // index of the shard key in `columns` (-1: reference)
    std::vector<int> primary_key;      // indexes in `columns`

    // The shard key is part of the primary key, so a replicated DELETE (which carries only the
    // key columns) still tells its bucket.
    bool key_in_primary_key() const;
    int column_index(const std::string& col) const;
};

// Reads one [[tables]] entry's definition. Refuses a table without a primary key (logical
// replication of UPDATE/DELETE needs it as replica identity) or without its shard key column.
Expected<TableInfo> describe_table(PGconn* c, const std::string& label, const TableConfig& t);

// Every sharded table of the config, as the given shard defines them.
Expected<std::vector<TableInfo>> describe_sharded(PGconn* c, const std::string& label,
                                                  const Config& cfg);
// Every reference table of the config (key_column -1; a primary key is required too: their
// replicated changes are applied by it).
Expected<std::vector<TableInfo>> describe_reference(PGconn* c, const std::string& label,
                                                    const Config& cfg);

// Column name -> type (format_type) of `table`; empty when the table does not exist.
Expected<std::map<std::string, std::string>> column_types(PGconn* c, const std::string& label,
                                                          const std::string& table);

// Quoted, comma-separated column list, e.g. "id","name".
std::string column_list(PGconn* c, const TableInfo& t);

}  // namespace sg::rebalance
