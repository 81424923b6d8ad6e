// Messages that are only a type byte and a length (Sync, Flush, ParseComplete, ...). One
// template keeps their decode/encode in one place; each message is an alias named as in the
// protocol documentation, declared in the header of its concern.
#pragma once

#include "proxy/wire/bytes.h"
#include "proxy/wire/status.h"
#include "proxy/wire/writer.h"

namespace sg::wire {

template <char Type>
struct EmptyMessage {
    static constexpr char kType = Type;
};

// A body must be empty: PostgreSQL rejects extra bytes as "invalid message format".
template <char Type>
Status decode(Bytes body, EmptyMessage<Type>& /*out*/) {
    return body.empty() ? Status{} : sg::unexpected("invalid message format: trailing bytes");
}

template <char Type>
void encode(const EmptyMessage<Type>& /*msg*/, MessageWriter& w) {
    w.empty_message(Type);
}

}  // namespace sg::wire
