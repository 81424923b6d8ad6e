#include "proxy/describe_type.h"

#include <fmt/format.h>

namespace sg::proxy {

std::string describe_type(char type) {
    auto u = static_cast<unsigned char>(type);
    if (u >= 0x21 && u < 0x7f) return fmt::format("'{}'", type);
    return fmt::format("0x{:02x}", u);
}

}  // namespace sg::proxy
