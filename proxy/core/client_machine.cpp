#include "proxy/core/client_machine.h"

#include "common/sqlstate.h"
#include "proxy/wire/frame.h"

namespace sg::proxy::core {

namespace {

bool is_copy_message(char type) {
    return type == wire::fe::kCopyData || type == wire::fe::kCopyDone ||
           type == wire::fe::kCopyFail;
}

}  // namespace

std::string describe_message_type(char type) {
    const auto u = static_cast<unsigned char>(type);
    if (u >= 0x21 && u < 0x7f) return std::string{'\'', type, '\''};
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string{'0', 'x', kHex[u >> 4], kHex[u & 15]};
}

ClientStep ClientMachine::close_with(size_t consumed, const char* sqlstate, std::string message) {
    state_ = Closed{};
    return {consumed, client::Fatal{sqlstate, std::move(message)}};
}

ClientStep ClientMachine::step(std::string_view input) {
    if (closed()) return {0, client::Terminate{}};
    auto st = wire::parse_frame(wire::as_bytes(input), max_message_);
    if (auto* need = std::get_if<wire::NeedMore>(&st)) return {0, client::NeedMore{need->at_least}};
    if (auto* bad = std::get_if<wire::Malformed>(&st))
        return close_with(0, sqlstate::kProtocolViolation,
                          "invalid message from client: " + std::string(bad->reason));
    const auto& f = std::get<wire::Frame>(st);
    const std::string_view frame = input.substr(0, f.size);
    switch (f.type) {
        case wire::fe::kQuery: {
            if (has_batch()) return {0, client::RunBatch{false}};  // unsynced messages first
            const std::string_view body = frame.substr(wire::kFrameHeaderSize);
            if (body.empty() || body.back() != '\0')
                return close_with(f.size, sqlstate::kProtocolViolation,
                                  "invalid Query message: missing string terminator");
            return {f.size, client::Query{frame, body.substr(0, body.size() - 1)}};
        }
        case wire::fe::kParse:
        case wire::fe::kBind:
        case wire::fe::kDescribe:
        case wire::fe::kExecute:
        case wire::fe::kClose: {
            if (admin_)
                return close_with(f.size, sqlstate::kFeatureNotSupported,
                                  "the admin console supports only the simple query protocol");
            const bool first = !has_batch();
            if (std::holds_alternative<SkippingToSync>(state_))
                return {f.size, client::Held{f.type, f.size, first}};  // discarded
            auto* b = std::get_if<Batching>(&state_);
            if (!b) b = &state_.emplace<Batching>();
            b->has_parse = b->has_parse || f.type == wire::fe::kParse;
            batch_.append(frame);
            return {f.size, client::Held{f.type, f.size, first}};
        }
        case wire::fe::kSync:
        case wire::fe::kFlush:
            // Appended even while skipping: the session answers the Sync (or drops the Flush).
            if (std::holds_alternative<Ready>(state_)) state_ = Batching{};
            batch_.append(frame);
            return {f.size, client::RunBatch{f.type == wire::fe::kSync}};
        case wire::fe::kCopyData:
        case wire::fe::kCopyDone:
        case wire::fe::kCopyFail: {
            // Every consecutive whole COPY message at once: streamed to the shard as it came.
            size_t end = f.size;
            for (;;) {
                auto more = wire::parse_frame(wire::as_bytes(input.substr(end)), max_message_);
                auto* mf = std::get_if<wire::Frame>(&more);
                if (!mf || !is_copy_message(mf->type)) break;
                end += mf->size;
            }
            return {end, client::Copy{input.substr(0, end)}};
        }
        case wire::fe::kFunctionCall:
            if (admin_)
                return close_with(f.size, sqlstate::kFeatureNotSupported,
                                  "the admin console supports only the simple query protocol");
            if (has_batch()) return {0, client::RunBatch{false}};
            return {f.size, client::FunctionCall{frame}};
        case wire::fe::kTerminate:
            state_ = Closed{};
            return {f.size, client::Terminate{}};
        default:
            return close_with(f.size, sqlstate::kProtocolViolation,
                              "unsupported frontend message type " + describe_message_type(f.type));
    }
}

TakenBatch ClientMachine::take_batch(std::string spare) {
    TakenBatch t;
    if (auto* b = std::get_if<Batching>(&state_)) {
        t.has_parse = b->has_parse;
        state_ = Ready{};
    }
    t.bytes = std::move(batch_);
    batch_ = std::move(spare);
    batch_.clear();
    return t;
}

}  // namespace sg::proxy::core
