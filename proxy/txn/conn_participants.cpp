#include "proxy/txn/conn_participants.h"

#include <chrono>

#include "common/sqlstate.h"
#include "proxy/shard_request.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"

namespace sg::proxy::txn {

ConnParticipants::ConnParticipants(net::asio::any_io_executor ex,
                                   std::vector<std::shared_ptr<ServerConn>> conns,
                                   int step_timeout_ms)
    : conns_(std::move(conns)),
      state_(conns_.size()),
      done_(ex),
      step_timeout_ms_(step_timeout_ms) {
    for (size_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i]->usable())
            conns_[i]->attach(this);
        else
            state_[i].lost = true;
    }
}

ConnParticipants::~ConnParticipants() {
    for (auto& c : conns_)
        if (c->sink() == this) c->detach();
}

size_t ConnParticipants::index_of(const ServerConn& s) const {
    for (size_t i = 0; i < conns_.size(); ++i)
        if (conns_[i].get() == &s) return i;
    return conns_.size();
}

awaitable<void> ConnParticipants::relay(ServerConn& s,
                                        const std::vector<net::asio::const_buffer>& frames,
                                        size_t) {
    size_t i = index_of(s);
    if (i == conns_.size()) co_return;
    for (const auto& b : frames) {
        wire::FrameCursor cursor(std::string_view(static_cast<const char*>(b.data()), b.size()));
        while (auto f = cursor.next()) {
            if (f->type == wire::be::kErrorResponse && state_[i].sqlstate.empty()) {
                wire::ErrorResponse e;
                if (wire::decode(wire::as_bytes(f->body), e).ok()) {
                    state_[i].sqlstate = std::string(e.sqlstate());
                    state_[i].message = std::string(e.message());
                } else {
                    state_[i].sqlstate = sqlstate::kInternalError;
                }
            }
        }
    }
    co_return;
}

void ConnParticipants::on_ready(ServerConn& s, char) {
    size_t i = index_of(s);
    if (i < conns_.size()) state_[i].waiting = false;
    done_.notify_all();
}

void ConnParticipants::on_lost(ServerConn& s, const std::string& why) {
    size_t i = index_of(s);
    if (i < conns_.size()) {
        state_[i].waiting = false;
        state_[i].lost = true;
        state_[i].message = why;
    }
    done_.notify_all();
}

net::awaitable<std::vector<StepOutcome>> ConnParticipants::step(
    const std::vector<std::string>& sql) {
    for (size_t i = 0; i < conns_.size(); ++i) {
        State& st = state_[i];
        st.sqlstate.clear();
        if (!st.lost) st.message.clear();
        if (sql[i].empty() || st.lost || !conns_[i]->usable()) {
            st.lost = st.lost || !conns_[i]->usable();
            continue;
        }
        std::string out;
        ShardRequest(out, *conns_[i]).query(sql[i]);
        st.waiting = true;
        co_await conns_[i]->write(out);
    }
    auto pending = [&] {
        for (const auto& st : state_)
            if (st.waiting) return true;
        return false;
    };
    // Bounded: a shard that does not answer is cut off (its part is then left to recovery).
    const auto deadline = net::Clock::now() + std::chrono::milliseconds(step_timeout_ms_);
    while (pending()) {
        auto left = deadline - net::Clock::now();
        bool woke = false;  // (no co_await inside || or ?:, which GCC 12 miscompiles)
        if (left > net::Clock::duration::zero()) woke = co_await done_.wait_for(left);
        if (!woke) {
            for (size_t i = 0; i < conns_.size(); ++i)
                if (state_[i].waiting) {
                    state_[i].waiting = false;
                    state_[i].lost = true;
                    state_[i].message = "no answer within [transactions] step_timeout_ms";
                    conns_[i]->close("commit step timed out");
                }
            break;
        }
    }
    std::vector<StepOutcome> out(conns_.size());
    for (size_t i = 0; i < conns_.size(); ++i) {
        out[i].lost = !sql[i].empty() && state_[i].lost;
        out[i].ok = sql[i].empty() || (!state_[i].lost && state_[i].sqlstate.empty());
        out[i].sqlstate = state_[i].sqlstate;
        out[i].message = state_[i].message;
    }
    co_return out;
}

}  // namespace sg::proxy::txn
