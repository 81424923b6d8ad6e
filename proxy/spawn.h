// The completion token for coroutines nobody awaits (co_spawn'ed loops and fire-and-forget
// work). asio::detached drops an escaping exception without a word (Boost 1.74); this token
// logs it, naming the task, so a coroutine that dies of an exception is never silent.
// Coroutines on the data path return errors as values; an exception here is a bug.
#pragma once

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace sg::proxy {

class LogUnhandled {
public:
    explicit LogUnhandled(const char* task) : task_(task) {}

    // co_spawn completes with (exception_ptr) or (exception_ptr, T): the value is not wanted.
    template <typename... Result>
    void operator()(const std::exception_ptr& e, Result&&...) const {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            spdlog::error("{}: ended by an unhandled exception: {}", task_, x.what());
        } catch (...) {
            spdlog::error("{}: ended by an unhandled exception of unknown type", task_);
        }
    }

private:
    const char* task_;
};

}  // namespace sg::proxy
