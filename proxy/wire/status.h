// The outcome of a decode: ok, or why the bytes are not a valid message. Reasons are static
// strings, so producing an error costs nothing and the text can go straight into the message
// of a 08P01 ErrorResponse. Errors are values: nothing on the data path throws.
#pragma once

#include <string_view>

namespace sg::wire {

class [[nodiscard]] Status {
public:
    constexpr Status() = default;
    static constexpr Status error(const char* reason) {
        Status s;
        s.reason_ = reason;
        return s;
    }

    constexpr bool ok() const { return reason_ == nullptr; }
    constexpr explicit operator bool() const { return ok(); }
    constexpr std::string_view reason() const { return reason_ ? reason_ : std::string_view{}; }

private:
    const char* reason_ = nullptr;
};

}  // namespace sg::wire
