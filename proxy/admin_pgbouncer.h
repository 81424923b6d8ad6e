// pgbouncer-compatible console commands, so pgbouncer_exporter and existing dashboards read
// shardgate: the names, columns and units of pgbouncer's SHOW DATABASES, SHOW LISTS, SHOW USERS,
// SHOW STATS_TOTALS and SHOW STATS_AVERAGES (times in microseconds, as pgbouncer gives them),
// where the meaning matches; a pgbouncer "database" here is a shard.
//
// Columns pgbouncer has whose meaning shardgate does not share (server_parse_count,
// xact_time, ...) are left out rather than filled with made-up figures: the exporter skips
// absent columns.
#pragma once

#include <string>

#include "proxy/stats/admin_tables.h"

namespace sg::proxy {

class Proxy;

stats::Table pgb_show_databases(Proxy& p);
stats::Table pgb_show_lists(Proxy& p);
stats::Table pgb_show_users(Proxy& p);
stats::Table pgb_show_stats_totals(Proxy& p);
// Per second (counts, bytes) and per statement (times), since the statistics were last reset.
stats::Table pgb_show_stats_averages(Proxy& p);
// KILL shard: closes every server connection to the shard now (statements running there fail
// with 08006); RECONNECT [shard]: closes idle ones now and the others when given back. Errors
// name the unknown shard; the result is the command tag.
stats::Table pgb_kill(Proxy& p, const std::string& shard, std::string& error);
stats::Table pgb_reconnect(Proxy& p, const std::string& shard, std::string& error);

}  // namespace sg::proxy
