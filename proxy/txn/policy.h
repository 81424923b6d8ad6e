// Which multi-shard work the commit protocol wraps, and its limits.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/config.h"

namespace sg::proxy::txn {

struct Refusal {
    std::string sqlstate, message;
};

// [transactions] two_phase_commit: multi-shard writes are atomic.
bool atomic_writes(const Config& cfg);
// Whether a multi-shard statement runs inside per-shard transactions committed as one: a write
// (DML, DDL, COPY FROM) that PostgreSQL allows in a transaction block. VACUUM, CONCURRENTLY
// index builds, CREATE/DROP DATABASE, ALTER SYSTEM and the like cannot be (nor can
// CREATE TEMP TABLE: PREPARE TRANSACTION refuses temporary objects), so they run on each
// shard on its own, as before (PostgreSQL does not make them atomic either).
bool atomic_statement(const Config& cfg, bool is_write, std::string_view sql);
// Set when `participants` shards exceed [transactions] max_participants.
std::optional<Refusal> participants_refusal(const Config& cfg, size_t participants);

}  // namespace sg::proxy::txn
