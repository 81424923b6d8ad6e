// Errors as values, one vocabulary for every layer (wire decoders, router, proxy, tools):
// nothing on the data path throws per statement. std::expected arrives with C++23; this is
// the subset the code uses, with the same shape (a value or an error, `unexpected(e)` to make
// an error when T and E could be confused).
//
// Invariant: an Expected holds exactly one of a value or an error. Both Expected and the
// Status alias are [[nodiscard]]: a result that may carry an error cannot be dropped by
// accident (the compiler says so, and CI's -Werror build makes that fatal).
//
// Standard library only: proxy/wire (the sans-io protocol layer) includes this header.
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

namespace sg {

// The value of an operation that produces nothing but may fail.
struct Ok {};

// An error on its way into an Expected (as std::unexpected).
template <class E>
struct Unexpected {
    E error;
};

template <class E>
constexpr Unexpected<std::decay_t<E>> unexpected(E&& error) {
    return Unexpected<std::decay_t<E>>{std::forward<E>(error)};
}

template <class T, class E>
class [[nodiscard]] Expected {
public:
    // A default-constructed Expected holds a value-initialised T (Status: ok), as std::expected.
    constexpr Expected() requires std::is_default_constructible_v<T> : v_(std::in_place_index<0>) {}
    constexpr Expected(T value)
        : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
    constexpr Expected(E error)                            // NOLINT: implicit
        requires(!std::is_same_v<T, E>)
        : v_(std::in_place_index<1>, std::move(error)) {}
    template <class G>
    requires std::is_constructible_v<E, G>
    constexpr Expected(Unexpected<G> u)
        : v_(std::in_place_index<1>, E(std::move(u.error))) {}  // NOLINT

    constexpr bool ok() const { return v_.index() == 0; }
    constexpr explicit operator bool() const { return ok(); }

    constexpr T& value() & { return std::get<0>(v_); }
    constexpr const T& value() const& { return std::get<0>(v_); }
    constexpr T&& value() && { return std::get<0>(std::move(v_)); }
    constexpr const E& error() const { return std::get<1>(v_); }

    constexpr T* operator->() { return &value(); }
    constexpr const T* operator->() const { return &value(); }
    constexpr T& operator*() & { return value(); }
    constexpr const T& operator*() const& { return value(); }

private:
    std::variant<T, E> v_;
};

// For operations that produce nothing but may fail.
template <class E>
using Status = Expected<Ok, E>;

}  // namespace sg
