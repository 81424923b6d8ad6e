// NotificationResponse messages cut out of what a pooled server connection relays to its
// client (protocol logic, no I/O).
//
// In transaction pooling a client's notifications come from the proxy's listening connections
// (proxy/notify/service.h), once each. A LISTEN carried inside a query of several statements
// (proxy/session_multi_statement.cpp) also runs on the pooled server connection of that query,
// which then sends notifications of its own while the client holds it (PostgreSQL sends those
// pending before a ReadyForQuery, e.g. a NOTIFY in the same query): they would reach the
// client twice, so they are dropped (Session::relay), and the connection is closed when its
// client lets it go (ServerConn::listened()).
#pragma once

#include <vector>

#include "proxy/net.h"

namespace sg::proxy::notify {

// `frames`: buffers each holding whole backend messages (as ServerConn relays them). The same
// bytes without the NotificationResponse ('A') messages.
std::vector<net::asio::const_buffer> without_notifications(
    const std::vector<net::asio::const_buffer>& frames);

}  // namespace sg::proxy::notify
