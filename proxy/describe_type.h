// How a message type byte is named in errors: printable as 'X', anything else in hex (a NUL
// must never reach a wire string).
#pragma once

#include <string>

namespace sg::proxy {

std::string describe_type(char type);

}  // namespace sg::proxy
