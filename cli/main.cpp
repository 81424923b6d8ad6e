// shardgate: one binary, one subcommand per job (CLI11).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "cli/rebalance.h"
#include "cli/report.h"
#include "common/config.h"
#include "common/logging.h"

namespace {

struct Options {
    std::string config = "shardgate.toml";
    std::string log_level;
    bool json = false;
};

// Loads the config or explains why not (file, key, problem) and returns nullopt.
std::optional<sg::Config> load(const Options& o) {
    try {
        sg::Config c = sg::load_config(o.config, sg::shardgate_environment());
        if (o.log_level.empty()) sg::set_log_level(c.proxy.log_level);
        return c;
    } catch (const sg::ConfigError& e) {
        std::cerr << "shardgate: bad config: " << e.what() << "\n";
        return std::nullopt;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"shardgate: a sharding proxy for PostgreSQL"};
    app.require_subcommand(1);
    Options o;
    app.add_option("--log-level", o.log_level,
                   "trace|debug|info|warn|error|critical|off (overrides [proxy] log_level)");
    app.set_version_flag("--version", std::string("shardgate ") + SHARDGATE_VERSION);

    auto* serve = app.add_subcommand("serve", "run the proxy");
    serve->add_option("-c,--config", o.config, "config file")->required();

    auto* check = app.add_subcommand("check", "validate the config and reach every shard");
    check->add_option("-c,--config", o.config, "config file")->required();
    check->add_flag("--json", o.json, "print JSON");

    auto* init = app.add_subcommand(
        "init", "create the cluster's shard map (version 1) and stamp every shard");
    init->add_option("-c,--config", o.config, "config file")->required();

    auto* route = app.add_subcommand("route", "explain where a statement goes");
    route->add_option("-c,--config", o.config, "config file")->required();
    std::string sql;
    std::vector<std::string> params;
    route->add_option("sql", sql, "the statement")->required();
    route->add_option("--param", params, "a parameter value ($1, $2, ... in order)");
    route->add_flag("--json", o.json, "print JSON");

    auto* map = app.add_subcommand(
        "map", "the shard map in etcd ([cluster] etcd): show | publish --map FILE");
    map->add_option("-c,--config", o.config, "config file")->required();
    std::string map_action, map_file;
    map->add_option("action", map_action, "show|publish")
        ->required()
        ->check(CLI::IsMember({"show", "publish"}));
    map->add_option("--map", map_file,
                    "publish: the map JSON file (its version must be newer than etcd's)");
    map->add_flag("--json", o.json, "show: print the map JSON");

    auto* rebalance = app.add_subcommand(
        "rebalance", "move buckets between shards (plan|run|status|verify|abort)");
    rebalance->add_option("-c,--config", o.config, "config file")->required();
    sg::cli::RebalanceOptions rebalance_opts;
    sg::cli::add_rebalance_options(rebalance, rebalance_opts);

    auto* recover =
        app.add_subcommand("recover", "resolve prepared transactions left by two-phase commits");
    recover->add_option("-c,--config", o.config, "config file")->required();
    bool recover_all = false;
    recover->add_flag("--all", recover_all, "also the young ones (only when no proxy is running)");

    auto* report = app.add_subcommand("report", "print the query cost report of a running proxy");
    std::string report_dsn = "host=127.0.0.1 port=6432 dbname=shardgate";
    std::string report_format = "text";
    int report_top = 20;
    report->add_option("--dsn", report_dsn, "libpq connection string of the proxy's admin console");
    report->add_option("--format", report_format, "text|json|html")
        ->check(CLI::IsMember({"text", "json", "html"}));
    report->add_option("--top", report_top, "how many statements to list")
        ->check(CLI::PositiveNumber);
    bool report_include_held = false;
    std::string report_since, report_window;
    report->add_option("--since", report_since, "report only the last DURATION (90s, 10m, 2h)");
    report->add_option(
        "--window", report_window,
        "report the last DURATION and what got slower against the DURATION before it");
    report->add_flag("--include-held", report_include_held,
                     "rank statements by their time including time held by a pause");

    CLI11_PARSE(app, argc, argv);
    if (!sg::init_logging(o.log_level.empty() ? "info" : o.log_level)) {
        std::cerr << "shardgate: --log-level: unknown level '" << o.log_level << "'\n";
        return 2;
    }

    if (*check) {
        auto cfg = load(o);
        return cfg ? sg::cli::run_check(*cfg, o.json) : 2;
    }
    if (*serve) {
        auto cfg = load(o);
        return cfg ? sg::cli::run_serve(*cfg, o.config) : 2;
    }
    if (*init) {
        auto cfg = load(o);
        return cfg ? sg::cli::run_init(*cfg) : 2;
    }
    if (*route) {
        auto cfg = load(o);
        return cfg ? sg::cli::run_route(*cfg, sql, params, o.json) : 2;
    }
    if (*map) {
        auto cfg = load(o);
        if (!cfg) return 2;
        if (map_action == "show") return sg::cli::run_map_show(*cfg, o.json);
        if (map_file.empty()) {
            std::cerr << "shardgate map publish: --map FILE is required\n";
            return 2;
        }
        return sg::cli::run_map_publish(*cfg, map_file);
    }
    if (*rebalance) {
        auto cfg = load(o);
        return cfg ? sg::cli::run_rebalance(*cfg, rebalance_opts) : 2;
    }
    if (*recover) {
        auto cfg = load(o);
        return cfg ? sg::cli::run_recover(*cfg, recover_all) : 2;
    }
    if (*report)
        return sg::cli::run_report(report_dsn, report_format, report_top, report_include_held,
                                   report_since, report_window);
    return 0;
}
