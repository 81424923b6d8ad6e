// The SQLSTATE codes the proxy reports itself, named after PostgreSQL's condition names
// (errcodes.txt), so a client sees exactly the code PostgreSQL would send in its place.
#pragma once

#include <string_view>

namespace sg::wire::sqlstate {

// Class 08: connection exception.
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kSqlclientUnableToEstablishSqlconnection = "08001";
inline constexpr std::string_view kProtocolViolation = "08P01";
// Class 0A: feature not supported.
inline constexpr std::string_view kFeatureNotSupported = "0A000";
// Class 22: data exception.
inline constexpr std::string_view kInvalidTextRepresentation = "22P02";
inline constexpr std::string_view kInvalidParameterValue = "22023";
// Class 25: invalid transaction state.
inline constexpr std::string_view kActiveSqlTransaction = "25001";
inline constexpr std::string_view kInFailedSqlTransaction = "25P02";
// Class 26: invalid SQL statement name (unknown prepared statement).
inline constexpr std::string_view kInvalidSqlStatementName = "26000";
// Class 28: invalid authorization specification.
inline constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
inline constexpr std::string_view kInvalidPassword = "28P01";
// Class 34: invalid cursor name (unknown portal).
inline constexpr std::string_view kInvalidCursorName = "34000";
// Class 3D: invalid catalog name (unknown database).
inline constexpr std::string_view kInvalidCatalogName = "3D000";
// Class 42: syntax error or access rule violation.
inline constexpr std::string_view kSyntaxError = "42601";
inline constexpr std::string_view kUndefinedTable = "42P01";
inline constexpr std::string_view kInsufficientPrivilege = "42501";
// Class 53: insufficient resources.
inline constexpr std::string_view kTooManyConnections = "53300";
// Class 54: program limit exceeded.
inline constexpr std::string_view kProgramLimitExceeded = "54000";
// Class 57: operator intervention.
inline constexpr std::string_view kQueryCanceled = "57014";
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kCannotConnectNow = "57P03";
// Class XX: internal error.
inline constexpr std::string_view kInternalError = "XX000";

}  // namespace sg::wire::sqlstate
