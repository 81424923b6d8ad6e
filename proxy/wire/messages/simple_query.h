// The simple query protocol: Query (possibly several statements separated by ';') and the
// reply to an empty query string. Terminate closes the session.
#pragma once

#include <string_view>

#include "proxy/wire/messages/empty.h"
#include "proxy/wire/protocol.h"

namespace sg::wire {

struct Query {
    static constexpr char kType = fe::kQuery;
    std::string_view sql;
};

Status decode(Bytes body, Query& out);
void encode(const Query& msg, MessageWriter& w);

using Terminate = EmptyMessage<fe::kTerminate>;
using EmptyQueryResponse = EmptyMessage<be::kEmptyQueryResponse>;

}  // namespace sg::wire
