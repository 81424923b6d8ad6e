// Standard base64 (RFC 4648, with padding), as SCRAM and PostgreSQL's verifiers use it.
// Decoding is strict: any character outside the alphabet, bad padding or a wrong length is an
// error, so a malformed SCRAM attribute can never decode to something unexpected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/wire/bytes.h"

namespace sg::auth {

std::string base64_encode(wire::Bytes data);
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace sg::auth
