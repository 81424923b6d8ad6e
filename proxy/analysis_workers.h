// A small pool of threads for CPU work on large statement texts (parsing, literal
// extraction, rewriting), so one client's statement of many megabytes does not stall every
// other client of the event loop (issue 21).
//
// Rules for a job (the invariant that makes the pool safe):
//  - it owns everything it reads (owned copies or shared_ptrs): a session may go away while
//    its job runs, and the job must not read anything the event loop frees or changes;
//  - it touches no event-loop state: caches, statistics, the shard map and sessions stay on
//    the loop; the job returns a value and the loop applies it;
//  - what it calls is thread-safe: libpg_query keeps its memory contexts and error state in
//    thread-local variables (TopMemoryContext, CurrentMemoryContext, pg_query_initialized are
//    TLS symbols of libpg_query.so.1504) and frees a thread's context when the thread exits;
//    the router's analysis is a pure function of (text, catalog); spdlog is thread-safe.
// The awaiting coroutine resumes on its own executor (the event loop), never on a worker.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <exception>
#include <type_traits>
#include <utility>

#include "proxy/net.h"

namespace sg::proxy {

class AnalysisWorkers {
public:
    explicit AnalysisWorkers(int threads);
    // Waits for the jobs queued and running (CPU work, bounded by the text size): no job is
    // dropped, so every awaiting coroutine's handler goes back to its event loop.
    ~AnalysisWorkers();
    AnalysisWorkers(const AnalysisWorkers&) = delete;
    AnalysisWorkers& operator=(const AnalysisWorkers&) = delete;

    // Runs `job()` on a worker thread; the caller resumes on its executor with the result (an
    // exception the job throws is rethrown there). R must be default-constructible.
    template <typename F>
    net::awaitable<std::invoke_result_t<F&>> run(F job) {
        using R = std::invoke_result_t<F&>;
        auto loop = co_await net::asio::this_coro::executor;
        // (A named local, not `co_return co_await`: GCC 12 miscompiles that shape.)
        R result = co_await net::asio::async_initiate<decltype(net::asio::use_awaitable),
                                                      void(std::exception_ptr, R)>(
            [this, loop](auto handler, F job) {
                // The loop counts the job as outstanding work until its result is posted back,
                // so the event loop does not run out of work while a worker holds its handler.
                auto tracked =
                    net::asio::prefer(loop, net::asio::execution::outstanding_work.tracked);
                net::asio::post(
                    pool_, [handler = std::move(handler), job = std::move(job), tracked]() mutable {
                        std::exception_ptr error;
                        R result{};
                        try {
                            result = job();
                        } catch (...) {
                            error = std::current_exception();
                        }
                        net::asio::post(tracked, [handler = std::move(handler), error,
                                                  result = std::move(result)]() mutable {
                            std::move(handler)(error, std::move(result));
                        });
                    });
            },
            net::asio::use_awaitable, std::move(job));
        co_return result;
    }

    int threads() const { return threads_; }

private:
    int threads_;
    net::asio::thread_pool pool_;
};

}  // namespace sg::proxy
