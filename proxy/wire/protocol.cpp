#include "proxy/wire/protocol.h"

namespace sg::wire {

std::string_view frontend_message_name(char type) {
    switch (type) {
        case fe::kBind:
            return "Bind";
        case fe::kClose:
            return "Close";
        case fe::kDescribe:
            return "Describe";
        case fe::kExecute:
            return "Execute";
        case fe::kFunctionCall:
            return "FunctionCall";
        case fe::kFlush:
            return "Flush";
        case fe::kParse:
            return "Parse";
        case fe::kQuery:
            return "Query";
        case fe::kSync:
            return "Sync";
        case fe::kTerminate:
            return "Terminate";
        case fe::kCopyFail:
            return "CopyFail";
        case fe::kCopyData:
            return "CopyData";
        case fe::kCopyDone:
            return "CopyDone";
        case fe::kPasswordMessage:
            return "PasswordMessage";
        default:
            return {};
    }
}

std::string_view backend_message_name(char type) {
    switch (type) {
        case be::kParseComplete:
            return "ParseComplete";
        case be::kBindComplete:
            return "BindComplete";
        case be::kCloseComplete:
            return "CloseComplete";
        case be::kNotificationResponse:
            return "NotificationResponse";
        case be::kCommandComplete:
            return "CommandComplete";
        case be::kDataRow:
            return "DataRow";
        case be::kErrorResponse:
            return "ErrorResponse";
        case be::kCopyInResponse:
            return "CopyInResponse";
        case be::kCopyOutResponse:
            return "CopyOutResponse";
        case be::kEmptyQueryResponse:
            return "EmptyQueryResponse";
        case be::kBackendKeyData:
            return "BackendKeyData";
        case be::kNoticeResponse:
            return "NoticeResponse";
        case be::kAuthenticationRequest:
            return "Authentication";
        case be::kParameterStatus:
            return "ParameterStatus";
        case be::kRowDescription:
            return "RowDescription";
        case be::kFunctionCallResponse:
            return "FunctionCallResponse";
        case be::kCopyBothResponse:
            return "CopyBothResponse";
        case be::kReadyForQuery:
            return "ReadyForQuery";
        case be::kNoData:
            return "NoData";
        case be::kPortalSuspended:
            return "PortalSuspended";
        case be::kParameterDescription:
            return "ParameterDescription";
        case be::kNegotiateProtocolVersion:
            return "NegotiateProtocolVersion";
        case be::kCopyData:
            return "CopyData";
        case be::kCopyDone:
            return "CopyDone";
        default:
            return {};
    }
}

}  // namespace sg::wire
