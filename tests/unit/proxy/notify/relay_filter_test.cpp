#include "proxy/notify/relay_filter.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/writer.h"

namespace sg::proxy::notify {
namespace {

std::string joined(const std::vector<net::asio::const_buffer>& bufs) {
    std::string out;
    for (const auto& b : bufs) out.append(static_cast<const char*>(b.data()), b.size());
    return out;
}

TEST(RelayFilter, CutsNotificationsOutOfRunsOfWholeMessages) {
    std::string complete, ready, note;
    {
        wire::MessageWriter w(complete);
        wire::encode(wire::CommandComplete{"LISTEN"}, w);
    }
    {
        wire::MessageWriter w(ready);
        wire::encode(wire::ReadyForQuery{wire::TransactionStatus::Idle}, w);
    }
    {
        wire::MessageWriter w(note);
        wire::encode(wire::NotificationResponse{42, "ch", "payload"}, w);
    }
    const std::string run1 = complete + note + note + ready;
    const std::string run2 = note;
    const std::string run3 = complete;
    std::vector<net::asio::const_buffer> frames{net::asio::buffer(run1), net::asio::buffer(run2),
                                                net::asio::buffer(run3)};
    EXPECT_EQ(joined(without_notifications(frames)), complete + ready + complete);
    // Nothing to cut: the same bytes.
    std::vector<net::asio::const_buffer> plain{net::asio::buffer(run3)};
    EXPECT_EQ(joined(without_notifications(plain)), run3);
}

}  // namespace
}  // namespace sg::proxy::notify
