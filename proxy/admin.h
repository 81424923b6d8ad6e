// The admin console: psql to the database named by [admin] database as an admin user.
// Commands are a table of name -> handler; each answers with ordinary result sets so any
// PostgreSQL client can read them.
#pragma once

#include <string>
#include <string_view>

#include "proxy/net.h"

namespace sg::proxy {

class Proxy;
class Session;

// Runs one console statement; returns the complete reply (result or error) up to and
// including ReadyForQuery.
net::awaitable<std::string> run_admin_command(Proxy& proxy, Session& session, std::string_view sql);

}  // namespace sg::proxy
