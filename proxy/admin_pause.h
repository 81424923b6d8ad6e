// The console's pause commands (issue 22), each pause with a lease (proxy/pause_control.h):
//   PAUSE [TIMEOUT ms]                       hold new transactions; lapses after ms
//   RESUME [ID n]                            end it (with ID: only that pause; a lapsed one is an
//   error) PAUSE BUCKETS a-b[,c] [TIMEOUT ms] [DRAIN ms]
//                                            hold statements on those buckets; DRAIN bounds the
//                                            wait for open transactions that touched them (default
//                                            min(ms, 1000))
//   RESUME BUCKETS [ID n]
//   RENEW PAUSE ID n | RENEW BUCKETS ID n    extend the lease (the rebalancer does, while it works)
//   SHOW PAUSES                              pauses in force: owner, age, lease, expiry, held
//   clients
// TIMEOUT defaults to [proxy] max_pause_ms and may not exceed it: no client waits longer.
// PAUSE and PAUSE BUCKETS answer one row (id, lease_ms): the id names the pause to RESUME/RENEW.
// Owner: the console client's application_name, user and address.
#pragma once

#include <string>

#include "proxy/net.h"
#include "proxy/stats/admin_tables.h"

namespace sg::proxy {

class Proxy;
class Session;

// A table to send, or an error (sqlstate non-empty).
struct AdminReply {
    stats::Table table;
    std::string sqlstate, message;
};

net::awaitable<AdminReply> admin_pause(Proxy& p, Session& self, const std::string& args);
AdminReply admin_resume(Proxy& p, const std::string& args);
net::awaitable<AdminReply> admin_pause_buckets(Proxy& p, Session& self, const std::string& args);
AdminReply admin_resume_buckets(Proxy& p, const std::string& args);
AdminReply admin_renew(Proxy& p, const std::string& args);
AdminReply admin_show_pauses(Proxy& p);

// "A-B,C-D" -> inclusive ranges within bucket_count; false with `why` on a syntax error.
bool parse_bucket_runs(const std::string& spec, uint32_t bucket_count,
                       std::vector<std::pair<uint32_t, uint32_t>>& ranges, std::string& why);

}  // namespace sg::proxy
