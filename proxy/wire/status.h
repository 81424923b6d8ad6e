// The outcome of a decode: ok, or why the bytes are not a valid message. Reasons are static
// strings, so producing an error costs nothing and the text can go straight into the message
// of a 08P01 ErrorResponse. Errors are values: nothing on the data path throws.
//
// It is the project's one Status (common/expected.h) with a static reason as its error:
// `return sg::unexpected("reason")` fails, `return {}` succeeds, `status.error()` is the reason.
#pragma once

#include "common/expected.h"

namespace sg::wire {

using Status = sg::Status<const char*>;

}  // namespace sg::wire
