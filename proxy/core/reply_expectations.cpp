#include "proxy/core/reply_expectations.h"

#include "proxy/wire/protocol.h"

namespace sg::proxy::core {

bool ReplyExpectations::push(Expect e) {
    queue_.push_back(e);
    return e == Expect::Ready && outstanding_++ == 0;
}

Disposition ReplyExpectations::on_reply(char type) {
    Disposition d;
    while (front_is(Expect::ParseSynthesize)) {
        ++d.parse_completes;
        queue_.pop_front();
    }
    if (front_is(Expect::SwallowToReady)) {
        d.quiet = true;
        d.forward = false;
        if (type == wire::be::kReadyForQuery) {
            queue_.pop_front();
            d.ready = Disposition::Ready::QuietQuery;
        }
        return d;
    }
    switch (type) {
        case wire::be::kParseComplete:
            if (front_is(Expect::ParseSwallow)) {
                d.forward = false;
                queue_.pop_front();
            } else if (front_is(Expect::ParseForward)) {
                queue_.pop_front();
            }
            break;
        case wire::be::kBindComplete:
            if (front_is(Expect::BindSwallow)) {
                d.forward = false;
                queue_.pop_front();
            }
            break;
        case wire::be::kCloseComplete:
            if (front_is(Expect::CloseForward)) queue_.pop_front();
            break;
        case wire::be::kErrorResponse:
            // The shard skips everything up to the next Sync (or ends the simple query): the
            // replies of the messages skipped never come.
            while (!queue_.empty() && queue_.front() != Expect::Ready &&
                   queue_.front() != Expect::SwallowToReady && queue_.front() != Expect::SyncQuiet)
                queue_.pop_front();
            break;
        case wire::be::kReadyForQuery:
            if (front_is(Expect::SyncQuiet)) {
                queue_.pop_front();
                d.forward = false;
                d.ready = Disposition::Ready::QuietSync;
                break;
            }
            if (front_is(Expect::Ready)) queue_.pop_front();
            if (outstanding_ > 0) --outstanding_;
            d.ready = Disposition::Ready::Client;
            break;
        default:
            break;
    }
    return d;
}

std::optional<Expect> forwarded_expectation(char type) {
    switch (type) {
        case wire::fe::kParse:
            return Expect::ParseForward;
        case wire::fe::kClose:
            return Expect::CloseForward;
        case wire::fe::kSync:
        case wire::fe::kQuery:
        case wire::fe::kFunctionCall:
            return Expect::Ready;
        default:
            return std::nullopt;
    }
}

}  // namespace sg::proxy::core
