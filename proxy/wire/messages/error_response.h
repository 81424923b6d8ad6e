// ErrorResponse and NoticeResponse: a list of (field code, text) pairs, same layout for both.
// Decoding keeps every field (including codes this proxy does not know, as the protocol asks
// clients to ignore them); ErrorBuilder makes the errors the proxy itself reports.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/wire/bytes.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/status.h"
#include "proxy/wire/writer.h"

namespace sg::wire {

// Field codes (PG_DIAG_* in postgres_ext.h).
namespace field {
inline constexpr char kSeverity = 'S';              // localized
inline constexpr char kSeverityNonLocalized = 'V';  // never localized (9.6+)
inline constexpr char kSqlState = 'C';
inline constexpr char kMessage = 'M';
inline constexpr char kDetail = 'D';
inline constexpr char kHint = 'H';
inline constexpr char kPosition = 'P';
inline constexpr char kInternalPosition = 'p';
inline constexpr char kInternalQuery = 'q';
inline constexpr char kContext = 'W';
inline constexpr char kSchemaName = 's';
inline constexpr char kTableName = 't';
inline constexpr char kColumnName = 'c';
inline constexpr char kDataTypeName = 'd';
inline constexpr char kConstraintName = 'n';
inline constexpr char kSourceFile = 'F';
inline constexpr char kSourceLine = 'L';
inline constexpr char kSourceFunction = 'R';
}  // namespace field

struct NoticeField {
    char code;
    std::string_view value;
};

struct NoticeFields {
    std::vector<NoticeField> fields;  // in the order sent

    // The value of a field, empty when absent.
    std::string_view get(char code) const;
    // The non-localized severity when present, since it is meant for programs.
    std::string_view severity() const;
    std::string_view sqlstate() const { return get(field::kSqlState); }
    std::string_view message() const { return get(field::kMessage); }
    std::string_view detail() const { return get(field::kDetail); }
    std::string_view hint() const { return get(field::kHint); }
};

struct ErrorResponse : NoticeFields {
    static constexpr char kType = be::kErrorResponse;
};

struct NoticeResponse : NoticeFields {
    static constexpr char kType = be::kNoticeResponse;
};

Status decode(Bytes body, ErrorResponse& out);
Status decode(Bytes body, NoticeResponse& out);
void encode(const ErrorResponse& msg, MessageWriter& w);
void encode(const NoticeResponse& msg, MessageWriter& w);

enum class Severity { Error, Fatal, Panic, Warning, Notice, Debug, Info, Log };

std::string_view to_string(Severity s);

// Builds an error or notice the proxy reports itself, e.g.
//   ErrorBuilder(Severity::Fatal, sqlstate::kInvalidPassword,
//                "password authentication failed for user \"alice\"").encode_error(w);
// It owns its strings: errors are built on the cold path, where clarity beats allocation.
class ErrorBuilder {
public:
    ErrorBuilder(Severity severity, std::string_view sqlstate, std::string message);

    ErrorBuilder& detail(std::string text) { return field(field::kDetail, std::move(text)); }
    ErrorBuilder& hint(std::string text) { return field(field::kHint, std::move(text)); }
    ErrorBuilder& position(std::int32_t one_based) {
        return field(field::kPosition, std::to_string(one_based));
    }
    ErrorBuilder& field(char code, std::string value);

    Severity severity() const { return severity_; }
    const std::string& sqlstate() const { return sqlstate_; }
    const std::string& message() const { return message_; }

    void encode_error(MessageWriter& w) const { encode_as(be::kErrorResponse, w); }
    void encode_notice(MessageWriter& w) const { encode_as(be::kNoticeResponse, w); }

private:
    void encode_as(char type, MessageWriter& w) const;

    Severity severity_;
    std::string sqlstate_;
    std::string message_;
    std::vector<std::pair<char, std::string>> extra_;
};

// The common case without a builder: severity (S and V), SQLSTATE and message.
void encode_error(MessageWriter& w, Severity severity, std::string_view sqlstate,
                  std::string_view message);

}  // namespace sg::wire
