#include "proxy/wire/messages/extended_replies.h"

#include "proxy/wire/reader.h"

namespace sg::wire {

Status decode(Bytes body, ParameterDescription& out) {
    BodyReader r(body);
    out.type_oids.clear();
    std::uint16_t count = 0;
    if (r.u16(count) && r.count_fits(count, 4)) {
        out.type_oids.resize(count);
        for (auto& oid : out.type_oids) r.u32(oid);
    }
    return r.finish();
}

void encode(const ParameterDescription& msg, MessageWriter& w) {
    w.begin(ParameterDescription::kType);
    w.u16(static_cast<std::uint16_t>(msg.type_oids.size()));
    for (std::uint32_t oid : msg.type_oids) w.u32(oid);
    w.end();
}

}  // namespace sg::wire
