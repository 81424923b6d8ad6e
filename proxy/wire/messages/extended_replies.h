// The extended query protocol, backend side: the acknowledgements of Parse/Bind/Close, the
// answers to Describe (ParameterDescription, NoData; RowDescription lives with the rows) and
// PortalSuspended when Execute's row limit is reached.
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/wire/messages/empty.h"
#include "proxy/wire/protocol.h"

namespace sg::wire {

using ParseComplete = EmptyMessage<be::kParseComplete>;
using BindComplete = EmptyMessage<be::kBindComplete>;
using CloseComplete = EmptyMessage<be::kCloseComplete>;
using NoData = EmptyMessage<be::kNoData>;
using PortalSuspended = EmptyMessage<be::kPortalSuspended>;

struct ParameterDescription {
    static constexpr char kType = be::kParameterDescription;
    std::vector<std::uint32_t> type_oids;
};

Status decode(Bytes body, ParameterDescription& out);
void encode(const ParameterDescription& msg, MessageWriter& w);

}  // namespace sg::wire
