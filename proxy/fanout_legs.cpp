#include "proxy/fanout_legs.h"

#include "proxy/server_conn.h"
#include "proxy/spawn.h"

namespace sg::proxy {

namespace {
thread_local FanoutLegs* t_armed = nullptr;
}

void FanoutLegs::arm(FanoutLegs& legs) {
    t_armed = &legs;
}

FanoutLegs* FanoutLegs::take_armed() {
    return std::exchange(t_armed, nullptr);
}

void FanoutLegs::disarm(FanoutLegs& legs) {
    if (t_armed == &legs) t_armed = nullptr;
}

void FanoutLegs::cancel_all(net::asio::any_io_executor ex) const {
    for (const auto& weak : legs_) {
        auto s = weak.lock();
        if (!s || !s->usable() || s->outstanding() == 0) continue;
        net::asio::co_spawn(ex, send_cancel(ex, s->target(), s->backend_pid(), s->backend_secret()),
                            LogUnhandled("fan-out cancel"));
    }
}

}  // namespace sg::proxy
