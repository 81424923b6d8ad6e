#include "proxy/wire/messages/simple_query.h"

#include "proxy/wire/reader.h"

namespace sg::wire {

Status decode(Bytes body, Query& out) {
    BodyReader r(body);
    r.cstr(out.sql);
    return r.finish();
}

void encode(const Query& msg, MessageWriter& w) {
    w.begin(Query::kType);
    w.cstr(msg.sql);
    w.end();
}

}  // namespace sg::wire
