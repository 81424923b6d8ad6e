#include "proxy/readiness.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include <spdlog/spdlog.h>

namespace sg::proxy {

namespace asio = net::asio;
using net::error_code;

namespace {
constexpr int kBatch = 128;

// Waiters are allocated and freed once per wait, twice per transaction: recycle their blocks
// (the service is single-threaded; blocks of one size, larger waiters use the heap).
constexpr size_t kWaiterBlock = 128;
struct FreeBlock {
    FreeBlock* next;
};
thread_local FreeBlock* t_free_blocks = nullptr;
thread_local size_t t_free_count = 0;

void* waiter_alloc(size_t n) {
    if (n <= kWaiterBlock && t_free_blocks) {
        FreeBlock* b = t_free_blocks;
        t_free_blocks = b->next;
        --t_free_count;
        return b;
    }
    return ::operator new(n <= kWaiterBlock ? kWaiterBlock : n);
}

void waiter_free(void* p, size_t n) {
    if (n <= kWaiterBlock && t_free_count < 4096) {
        auto* b = static_cast<FreeBlock*>(p);
        b->next = t_free_blocks;
        t_free_blocks = b;
        ++t_free_count;
        return;
    }
    ::operator delete(p);
}

uint32_t slot_index(uint64_t handle) {
    return uint32_t(handle & 0xffffffffu);
}
uint32_t slot_generation(uint64_t handle) {
    return uint32_t(handle >> 32);
}
}  // namespace

template <typename Handler>
struct ReadinessService::WaiterImpl final : Waiter {
    Handler handler;
    explicit WaiterImpl(Handler&& h) : handler(std::move(h)) {}

    static void* operator new(size_t n) { return waiter_alloc(n); }
    static void operator delete(void* p, size_t n) { waiter_free(p, n); }

    void complete(error_code ec, bool now) override {
        Handler h = std::move(handler);
        delete this;
        if (now) {
            std::move(h)(ec);
            return;
        }
        // Posted, not called: a coroutine woken by cancel() or remove() resumes from the
        // scheduler, never nested inside whoever woke it.
        auto ex = asio::get_associated_executor(h);
        asio::post(ex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
    }
    void destroy() override { delete this; }
};

// The reactor operation that watches the set: it "performs" as done and exhausted, so Asio
// completes it when epoll reported an edge since the last completion (at start, or when the edge
// comes) and otherwise queues it without touching epoll. Completion runs on_epoll.
struct ReadinessService::ArmOp final : asio::detail::reactor_op {
    ReadinessService* service;

    explicit ArmOp(ReadinessService* s)
        : reactor_op(error_code(), &ArmOp::do_perform, &ArmOp::do_complete), service(s) {}

    static status do_perform(reactor_op*) { return done_and_exhausted; }

    // owner is null when the scheduler destroys the operation unrun (shutdown).
    static void do_complete(void* owner, asio::detail::operation* base, const error_code&,
                            std::size_t) {
        auto* op = static_cast<ArmOp*>(base);
        ReadinessService* s = op->service;
        error_code ec = op->ec_;
        delete op;
        if (owner) s->on_epoll(ec);
    }
};

ReadinessService::ReadinessService(asio::io_context& io)
    : asio::execution_context::service(io), reactor_(asio::use_service<asio::detail::reactor>(io)) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
        spdlog::warn("epoll_create1 failed ({}); socket reads use Asio's reactor only", errno);
        return;
    }
    if (int err = reactor_.register_descriptor(epfd_, reactor_data_); err != 0) {
        spdlog::warn(
            "cannot watch the read-readiness epoll set (errno {}); socket reads use Asio's reactor "
            "only",
            err);
        reactor_.cleanup_descriptor_data(reactor_data_);
        ::close(epfd_);
        epfd_ = -1;
    }
}

ReadinessService::~ReadinessService() = default;

ReadinessService& ReadinessService::of(const asio::any_io_executor& ex) {
    auto& ctx = asio::query(ex, asio::execution::context);
    return asio::use_service<ReadinessService>(static_cast<asio::io_context&>(ctx));
}

ReadinessService::Slot* ReadinessService::slot(uint64_t handle) {
    uint32_t idx = slot_index(handle);
    if (idx >= slots_.size()) return nullptr;
    Slot& s = slots_[idx];
    if (!s.in_use || s.generation != slot_generation(handle)) return nullptr;
    return &s;
}

uint64_t ReadinessService::add(int fd) {
    if (epfd_ < 0 || stopped_ || fd < 0) return 0;
    uint32_t idx;
    if (!free_.empty()) {
        idx = free_.back();
        free_.pop_back();
    } else {
        idx = uint32_t(slots_.size());
        slots_.emplace_back();
    }
    Slot& s = slots_[idx];
    if (++s.generation == 0) s.generation = 1;  // handle 0 means "not registered"
    uint64_t handle = (uint64_t(s.generation) << 32) | idx;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = handle;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        spdlog::debug("epoll_ctl(ADD, {}) failed ({}); this socket reads through Asio", fd, errno);
        free_.push_back(idx);
        return 0;
    }
    s.in_use = true;
    s.readable = true;
    s.hangup = false;
    s.waiter = nullptr;
    ++live_;
    arm();
    return handle;
}

void ReadinessService::remove(uint64_t handle, int fd) {
    Slot* s = slot(handle);
    if (!s) return;
    if (fd >= 0) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    if (s->waiter) wake(*s, asio::error::operation_aborted);
    s->in_use = false;
    free_.push_back(slot_index(handle));
    --live_;
}

void ReadinessService::cancel(uint64_t handle) {
    if (Slot* s = slot(handle); s && s->waiter) wake(*s, asio::error::operation_aborted);
}

// Not checked by UBSan's vptr sanitizer: on a type-cache miss it proves the vtable readable with
// pipe(), which fails when the process is out of descriptors (EMFILE), and then reports a valid
// waiter as "invalid vptr" and stops the proxy — exactly when the accept loop is backing off for
// lack of descriptors. The waiter's lifetime is this class's invariant: a slot points to a waiter
// from the moment it is created until wake()/shutdown() detaches it, and only they free it.
__attribute__((no_sanitize("vptr"))) void ReadinessService::wake(Slot& s, error_code ec, bool now) {
    Waiter* w = s.waiter;
    s.waiter = nullptr;
    w->complete(ec, now);
}

void ReadinessService::arm() {
    if (armed_ || stopped_ || epfd_ < 0 || live_ == 0) return;
    armed_ = true;
    reactor_.start_op(asio::detail::reactor::read_op, epfd_, reactor_data_, new ArmOp(this),
                      /*is_continuation=*/false, /*allow_speculative=*/true);
}

void ReadinessService::on_epoll(error_code ec) {
    armed_ = false;
    if (stopped_ || ec == asio::error::operation_aborted) return;
    epoll_event evs[kBatch];
    for (;;) {
        int n = ::epoll_wait(epfd_, evs, kBatch, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            spdlog::error("epoll_wait on the read-readiness set failed ({})", errno);
            break;
        }
        for (int i = 0; i < n; ++i) {
            // Looked up per event: a coroutine resumed by an earlier one may have registered
            // sockets (moving slots_) or unregistered this one.
            Slot* s = slot(evs[i].data.u64);
            if (!s) continue;  // unregistered since the event was queued
            s->readable = true;
            // A FIN (or an error) that came with data already reported leaves no later edge:
            // remember it, so a short read does not conclude that the socket is drained.
            if (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s->hangup = true;
            // This handler runs straight from the scheduler: the coroutine resumes here, at
            // once, and returns when it waits again.
            if (s->waiter) wake(*s, {}, true);
            if (stopped_) return;
        }
        if (n < kBatch) break;
    }
    arm();
}

void ReadinessService::shutdown() {
    stopped_ = true;
    for (Slot& s : slots_) {
        if (s.waiter) {
            Waiter* w = s.waiter;
            s.waiter = nullptr;
            w->destroy();  // the io_context is going away: handlers are destroyed, not called
        }
    }
    if (epfd_ >= 0) {
        // A queued ArmOp is handed back to the scheduler, which destroys it unrun.
        reactor_.deregister_descriptor(epfd_, reactor_data_, /*closing=*/true);
        reactor_.cleanup_descriptor_data(reactor_data_);
        ::close(epfd_);
        epfd_ = -1;
    }
}

template <typename Token>
auto ReadinessService::async_wait_readable(uint64_t handle, Token&& token) {
    return asio::async_initiate<Token, void(error_code)>(
        [this, handle](auto handler) {
            using H = decltype(handler);
            Slot* s = slot(handle);
            if (!s || stopped_ || s->readable) {
                error_code ec =
                    (!s || stopped_) ? error_code(asio::error::operation_aborted) : error_code();
                auto ex = asio::get_associated_executor(handler);
                asio::post(ex, [h = std::move(handler), ec]() mutable { std::move(h)(ec); });
                return;
            }
            if (s->waiter) {  // one reader per socket: a second one is a bug, fail it loudly
                spdlog::error("two readers waiting on one socket");
                auto ex = asio::get_associated_executor(handler);
                asio::post(ex, [h = std::move(handler)]() mutable {
                    std::move(h)(error_code(asio::error::in_progress));
                });
                return;
            }
            s->waiter = new WaiterImpl<H>(std::move(handler));
            arm();
        },
        token);
}

bool ReadinessService::maybe_readable(uint64_t handle) {
    Slot* s = slot(handle);
    return !s || s->readable;
}

// Not a coroutine itself: the caller awaits the wait operation directly, one coroutine frame
// less per wait (an unknown handle or a readable socket completes at once through the
// initiation).
net::awaitable<void> ReadinessService::wait_readable(uint64_t handle, error_code& ec) {
    ec = {};
    return async_wait_readable(handle, net::ec_token(ec));
}

std::optional<size_t> ReadinessService::try_read(uint64_t handle, int fd, asio::mutable_buffer b,
                                                 error_code& ec) {
    ec = {};
    if (b.size() == 0) return 0;
    for (;;) {
        Slot* s = slot(handle);
        if (!s) {
            ec = asio::error::operation_aborted;
            return 0;
        }
        if (!s->readable) return std::nullopt;
        ssize_t n = ::recv(fd, b.data(), b.size(), MSG_DONTWAIT);
        if (n > 0) {
            // Edge-triggered: a short read emptied the socket, and data (or a FIN) arriving
            // after it raises a new event; a FIN that arrived before it was reported with
            // EPOLLRDHUP. A full buffer may have left more behind.
            if (size_t(n) < b.size() && !s->hangup) s->readable = false;
            return size_t(n);
        }
        if (n == 0) {
            ec = asio::error::eof;
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            ec = error_code(errno, boost::system::system_category());
            return 0;
        }
        s->readable = false;
        return std::nullopt;
    }
}

net::awaitable<size_t> ReadinessService::read_some(uint64_t handle, int fd, asio::mutable_buffer b,
                                                   error_code& ec) {
    for (;;) {
        if (auto n = try_read(handle, fd, b, ec)) co_return *n;
        co_await async_wait_readable(handle, net::ec_token(ec));
        if (ec) co_return 0;
    }
}

}  // namespace sg::proxy
