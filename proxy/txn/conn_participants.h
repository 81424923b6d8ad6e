// txn::Participants over server connections a session holds for a transaction spanning shards
// (its attached one and the parked ones). While the commit protocol runs, the connections
// report to this object instead of the session; the destructor hands them back detached.
#pragma once

#include <memory>
#include <vector>

#include "proxy/server_conn.h"
#include "proxy/txn/participants.h"

namespace sg::proxy::txn {

class ConnParticipants : public Participants, private ServerSink {
public:
    ConnParticipants(net::asio::any_io_executor ex, std::vector<std::shared_ptr<ServerConn>> conns,
                     int step_timeout_ms);
    ~ConnParticipants() override;

    size_t count() const override { return conns_.size(); }
    int shard(size_t i) const override { return conns_[i]->target().shard; }
    std::string shard_name(size_t i) const override { return conns_[i]->target().shard_name; }
    net::awaitable<std::vector<StepOutcome>> step(const std::vector<std::string>& sql) override;

private:
    struct State {
        bool waiting = false, lost = false;
        std::string sqlstate, message;
    };
    size_t index_of(const ServerConn& s) const;
    awaitable<void> relay(ServerConn& s, const std::vector<net::asio::const_buffer>& frames,
                          size_t done) override;
    void on_ready(ServerConn& s, char status) override;
    void on_lost(ServerConn& s, const std::string& why) override;

    std::vector<std::shared_ptr<ServerConn>> conns_;
    std::vector<State> state_;
    net::Event done_;
    int step_timeout_ms_;
};

}  // namespace sg::proxy::txn
