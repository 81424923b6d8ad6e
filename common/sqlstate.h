// Every SQLSTATE the project reports or reacts to, named after PostgreSQL's condition names
// (src/backend/utils/errcodes.txt), so a client sees exactly the code PostgreSQL would send
// in the proxy's place and a reader sees what a code means. The one table: the wire layer,
// the router, the proxy and the tools all use it; no raw code strings elsewhere.
//
// Each constant is a char array (the type of the literal it replaces), so it converts to
// std::string, std::string_view and const char* wherever the code used the literal.
// Standard library only: proxy/wire (the sans-io protocol layer) includes this header.
#pragma once

namespace sg::sqlstate {

// Class 08: connection exception.
inline constexpr char kSqlclientUnableToEstablishSqlconnection[] = "08001";
inline constexpr char kConnectionFailure[] = "08006";
inline constexpr char kTransactionResolutionUnknown[] = "08007";
inline constexpr char kProtocolViolation[] = "08P01";

// Class 0A: feature not supported.
inline constexpr char kFeatureNotSupported[] = "0A000";

// Class 22: data exception.
inline constexpr char kNumericValueOutOfRange[] = "22003";
inline constexpr char kInvalidRowCountInLimitClause[] = "2201W";
inline constexpr char kInvalidRowCountInResultOffsetClause[] = "2201X";
inline constexpr char kInvalidParameterValue[] = "22023";
inline constexpr char kInvalidTextRepresentation[] = "22P02";
inline constexpr char kInvalidBinaryRepresentation[] = "22P03";
inline constexpr char kBadCopyFileFormat[] = "22P04";

// Class 25: invalid transaction state.
inline constexpr char kActiveSqlTransaction[] = "25001";
inline constexpr char kInFailedSqlTransaction[] = "25P02";

// Class 26: invalid sql statement name.
inline constexpr char kInvalidSqlStatementName[] = "26000";

// Class 28: invalid authorization specification.
inline constexpr char kInvalidAuthorizationSpecification[] = "28000";
inline constexpr char kInvalidPassword[] = "28P01";

// Class 34: invalid cursor name.
inline constexpr char kInvalidCursorName[] = "34000";

// Class 3D: invalid catalog name.
inline constexpr char kInvalidCatalogName[] = "3D000";

// Class 40: transaction rollback.
inline constexpr char kTransactionRollback[] = "40000";
inline constexpr char kSerializationFailure[] = "40001";
inline constexpr char kStatementCompletionUnknown[] = "40003";
inline constexpr char kDeadlockDetected[] = "40P01";

// Class 42: syntax error or access rule violation.
inline constexpr char kInsufficientPrivilege[] = "42501";
inline constexpr char kSyntaxError[] = "42601";
inline constexpr char kNameTooLong[] = "42622";
inline constexpr char kUndefinedColumn[] = "42703";
inline constexpr char kUndefinedObject[] = "42704";
inline constexpr char kDatatypeMismatch[] = "42804";
inline constexpr char kUndefinedTable[] = "42P01";

// Class 53: insufficient resources.
inline constexpr char kTooManyConnections[] = "53300";

// Class 54: program limit exceeded.
inline constexpr char kProgramLimitExceeded[] = "54000";
inline constexpr char kStatementTooComplex[] = "54001";

// Class 55: object not in prerequisite state.
inline constexpr char kObjectNotInPrerequisiteState[] = "55000";

// Class 57: operator intervention.
inline constexpr char kQueryCanceled[] = "57014";
inline constexpr char kAdminShutdown[] = "57P01";
inline constexpr char kCannotConnectNow[] = "57P03";

// Class 58: system error (errors external to PostgreSQL itself).
inline constexpr char kSystemError[] = "58000";
inline constexpr char kIoError[] = "58030";
inline constexpr char kUndefinedFile[] = "58P01";

// Class F0: configuration file error.
inline constexpr char kConfigFileError[] = "F0000";

// Class XX: internal error.
inline constexpr char kInternalError[] = "XX000";

}  // namespace sg::sqlstate
