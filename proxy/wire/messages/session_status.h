// What the server tells a client about its session outside query results: run-time parameters,
// the cancel key, transaction status at each ReadyForQuery, and LISTEN notifications.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/wire/bytes.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/status.h"
#include "proxy/wire/writer.h"

namespace sg::wire {

struct ParameterStatus {
    static constexpr char kType = be::kParameterStatus;
    std::string_view name;
    std::string_view value;
};

Status decode(Bytes body, ParameterStatus& out);
void encode(const ParameterStatus& msg, MessageWriter& w);

struct BackendKeyData {
    static constexpr char kType = be::kBackendKeyData;
    std::int32_t process_id = 0;
    std::int32_t secret_key = 0;
};

Status decode(Bytes body, BackendKeyData& out);
void encode(const BackendKeyData& msg, MessageWriter& w);

// The transaction status byte of ReadyForQuery.
enum class TransactionStatus : char {
    Idle = 'I',           // not in a transaction block
    InTransaction = 'T',  // in a transaction block
    Failed = 'E',         // in a failed transaction block (25P02 until ROLLBACK)
};

struct ReadyForQuery {
    static constexpr char kType = be::kReadyForQuery;
    TransactionStatus status = TransactionStatus::Idle;
};

Status decode(Bytes body, ReadyForQuery& out);
void encode(const ReadyForQuery& msg, MessageWriter& w);
// Appends a whole ReadyForQuery frame: `status` is the byte the session tracks ('I', 'T', 'E').
void append_ready_for_query(std::string& out, char status);

struct NotificationResponse {
    static constexpr char kType = be::kNotificationResponse;
    std::int32_t process_id = 0;  // of the notifying backend
    std::string_view channel;
    std::string_view payload;
};

Status decode(Bytes body, NotificationResponse& out);
void encode(const NotificationResponse& msg, MessageWriter& w);

}  // namespace sg::wire
