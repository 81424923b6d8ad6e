// Errors as values for the router's data path: nothing here throws per statement.
#pragma once

#include <string>

#include "common/expected.h"
#include "common/sqlstate.h"

namespace sg::router {

// What a client sees in an ErrorResponse: the SQLSTATE and a message that says what to do.
struct Error {
    std::string sqlstate;
    std::string message;
};

// A value or an error: the project's one Expected (common/expected.h), with the router's
// Error as the default error type.
template <class T, class E = Error>
using Expected = sg::Expected<T, E>;
using sg::Ok;
using sg::unexpected;
using Status = Expected<Ok>;

}  // namespace sg::router
