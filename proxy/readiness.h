// Reads on plain TCP sockets without Asio's speculative read.
//
// Asio 1.74's reactor tries every async_read_some at once and only then waits for epoll; on a
// proxy the peer has almost never answered yet, so that first recv() fails with EAGAIN: two
// wasted system calls per transaction (one per direction). This service keeps its own
// edge-triggered epoll set, registered once per socket, and nests it in Asio's loop:
// a socket is read when epoll said it has data (or a previous read filled the buffer), and a
// coroutine waits otherwise. One extra epoll_wait per loop iteration replaces one extra recv()
// per message.
//
// The set itself is watched through Asio's reactor with an operation of our own rather than
// stream_descriptor::async_wait: Asio starts a wait without trying it first, and so re-arms the
// descriptor with epoll_ctl(MOD) every time (once per loop iteration). Our operation is started
// the way Asio starts a speculative read (an edge seen since the last completion completes it at
// once; otherwise it is queued without a system call), so re-arming costs nothing. That uses
// Asio's detail reactor interface (Boost 1.74, as Debian 12 ships it).
//
// Single-threaded: the service belongs to an io_context run by one thread, as the proxy's is.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "proxy/net.h"

#include <boost/asio/detail/reactor.hpp>

namespace sg::proxy {

class ReadinessService : public net::asio::execution_context::service {
public:
    using key_type = ReadinessService;
    static inline net::asio::execution_context::id id;

    explicit ReadinessService(net::asio::io_context& io);
    ~ReadinessService() override;
    ReadinessService(const ReadinessService&) = delete;
    ReadinessService& operator=(const ReadinessService&) = delete;

    static ReadinessService& of(const net::asio::any_io_executor& ex);

    // Registers `fd` (an open, connected socket); returns a handle, or 0 when epoll refused.
    uint64_t add(int fd);
    // Unregisters before the socket is closed; a coroutine waiting on it gets operation_aborted.
    void remove(uint64_t handle, int fd);
    // Wakes a waiting coroutine with operation_aborted; the registration stays.
    void cancel(uint64_t handle);

    // Reads what is there (at most b.size() bytes), waiting for epoll when nothing is.
    // eof when the peer closed; operation_aborted after cancel()/remove().
    net::awaitable<size_t> read_some(uint64_t handle, int fd, net::asio::mutable_buffer b,
                                     net::error_code& ec);

    // read_some without suspending: the bytes read (0 with ec set at eof or on an error), or
    // nullopt when the socket has nothing now and the caller must wait (read_some does).
    std::optional<size_t> try_read(uint64_t handle, int fd, net::asio::mutable_buffer b,
                                   net::error_code& ec);

    // Waits until a read may find data (or the socket was cancelled/removed), reading nothing:
    // a caller can hold no buffer while it waits.
    net::awaitable<void> wait_readable(uint64_t handle, net::error_code& ec);
    // Whether a read now may find data without waiting (false only when known to be drained).
    bool maybe_readable(uint64_t handle);

    size_t registered() const { return live_; }

private:
    struct Waiter {
        // Resumes the waiting coroutine: posted, or (`now`, from the epoll handler, where
        // nothing else is on the stack) run at once, saving a trip through the scheduler.
        virtual void complete(net::error_code ec, bool now) = 0;
        virtual void destroy() = 0;

    protected:
        ~Waiter() = default;
    };
    template <typename Handler>
    struct WaiterImpl;

    struct Slot {
        uint32_t generation = 0;
        bool in_use = false;
        bool readable =
            true;  // a read may find data: new sockets, epoll said so, or last read was full
        bool hangup =
            false;  // epoll reported the peer's FIN or an error: keep reading until recv says so
        Waiter* waiter = nullptr;
    };

    Slot* slot(uint64_t handle);
    void wake(Slot& s, net::error_code ec, bool now = false);
    void arm();
    void on_epoll(net::error_code ec);
    void shutdown() override;

    template <typename Token>
    auto async_wait_readable(uint64_t handle, Token&& token);

    struct ArmOp;

    int epfd_ = -1;
    net::asio::detail::reactor& reactor_;
    net::asio::detail::reactor::per_descriptor_data reactor_data_ = nullptr;
    bool armed_ = false;
    bool stopped_ = false;
    std::vector<Slot> slots_;
    std::vector<uint32_t> free_;
    size_t live_ = 0;
};

}  // namespace sg::proxy
