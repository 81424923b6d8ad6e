// A statement a client prepared (Parse), as the session keeps it: re-preparable on any server
// under a proxy-chosen name, so a client's statements survive its server connections changing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "router/analyzer.h"

namespace sg::proxy {

struct ClientStatement {
    uint64_t id = 0;          // server-side name is "sg<id>"
    std::string query;        // its text (statistics)
    std::string parse_frame;  // the Parse message to send to a server lacking it
    std::shared_ptr<const router::Analysis> analysis;  // analysed once, at Parse
};

}  // namespace sg::proxy
