// One dedicated listening connection to a shard (LISTEN/NOTIFY in transaction pooling).
//
// It is not taken from the transaction pool: it stays logged in for as long as the proxy runs
// (as the map-stamp watcher's and the 2PC recovery's connections do), and a pool of size 1
// is never occupied by it. It only carries out commands (LISTEN/UNLISTEN queries) it is
// given and reports back what the server says: acknowledgements, failures and the
// NotificationResponse messages; what to send is decided by proxy/notify/hub.h.
//
// A lost connection (or a failed command, after which the server's state is unknown) is
// closed and reconnected with backoff (100 ms doubling up to 5 s), for as long as the
// listener is not stopped and some channel is wanted.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "proxy/net.h"
#include "proxy/server_conn.h"

namespace sg::proxy::notify {

class ShardListener : public std::enable_shared_from_this<ShardListener> {
public:
    // What the listener reports, on the event loop's thread.
    struct Events {
        std::function<void(int shard)> connected;
        // The connection was lost or could not be made (`why` names the cause).
        std::function<void(int shard, const std::string& why, bool was_connected)> lost;
        std::function<void(int shard, uint64_t seq)> acknowledged;
        std::function<void(int shard, std::string_view frame)> notification;  // a whole 'A' frame
        // Whether any channel is wanted: a listener that lost (or never got) its connection
        // connects again only then, and waits for kick() otherwise.
        std::function<bool()> wanted;
    };
    // `target` is asked for the shard's address at every (re)connection: after a failover it
    // names the new primary.
    ShardListener(net::asio::any_io_executor ex, int shard, std::function<ServerTarget()> target,
                  Events events);

    void start();
    // Closes the connection for good (no reconnection).
    void stop();
    // A channel is wanted now: connect at once if waiting to (skips the backoff).
    void kick();
    // Sends one command (a simple query); acknowledged with `seq` once its ReadyForQuery came
    // without an error. Only while connected.
    void send(const std::string& sql, uint64_t seq);
    bool connected() const { return connected_; }
    int32_t backend_pid() const { return backend_pid_; }
    const std::string& last_error() const { return last_error_; }

private:
    net::awaitable<void> run();
    // Reads until the connection breaks; returns why.
    net::awaitable<std::string> read_loop();
    net::awaitable<void> write_loop();
    // Handles the frames buffered in rbuf_; returns an error text when the stream is unusable.
    std::string scan();
    void drop_connection();

    net::asio::any_io_executor ex_;
    int shard_;
    std::function<ServerTarget()> target_;
    Events events_;
    std::unique_ptr<net::tcp::socket> sock_;
    net::asio::steady_timer backoff_;
    std::string rbuf_;
    size_t rlen_ = 0;
    std::string out_;  // commands not yet written
    bool writing_ = false;
    bool connected_ = false;
    bool stopped_ = false;
    bool failed_command_ = false;  // an ErrorResponse came before the next ReadyForQuery
    std::string failure_;
    std::deque<uint64_t> inflight_;  // sequence numbers of the commands awaiting ReadyForQuery
    int32_t backend_pid_ = 0;
    std::string last_error_;
};

}  // namespace sg::proxy::notify
