// Errors as values for the router's data path: nothing here throws per statement.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sg::router {

// What a client sees in an ErrorResponse: the SQLSTATE and a message that says what to do.
struct Error {
    std::string sqlstate;
    std::string message;
};

// SQLSTATEs the router reports, named as PostgreSQL names them.
namespace sqlstate {
inline constexpr const char* kSyntaxError = "42601";
inline constexpr const char* kFeatureNotSupported = "0A000";
inline constexpr const char* kInvalidTextRepresentation = "22P02";
inline constexpr const char* kNumericValueOutOfRange = "22003";
inline constexpr const char* kInvalidBinaryRepresentation = "22P03";
inline constexpr const char* kInvalidParameterValue = "22023";
inline constexpr const char* kUndefinedObject = "42704";
inline constexpr const char* kProtocolViolation = "08P01";
inline constexpr const char* kConfigFileError = "F0000";
inline constexpr const char* kObjectNotInPrerequisiteState = "55000";
}  // namespace sqlstate

// A value or an error (std::expected arrives with C++23; this is the subset the router uses).
template <class T, class E = Error>
class Expected {
public:
    Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
    Expected(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const E& error() const { return std::get<1>(v_); }

    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::variant<T, E> v_;
};

// For operations that produce nothing but may fail.
struct Ok {};
using Status = Expected<Ok>;

}  // namespace sg::router
