#include "rebalance/schema.h"

#include <fcntl.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/sqlstate.h"
#include "rebalance/tables.h"

extern char** environ;

namespace sg::rebalance {
namespace {

// An anonymous temporary file (gone when closed), for a child's stdout or stderr.
struct TempFd {
    int fd = -1;
    TempFd() {
        char tmpl[] = "/tmp/shardgate-schema-XXXXXX";
        fd = ::mkstemp(tmpl);
        if (fd >= 0) ::unlink(tmpl);
    }
    ~TempFd() {
        if (fd >= 0) ::close(fd);
    }
    TempFd(const TempFd&) = delete;
    TempFd& operator=(const TempFd&) = delete;

    std::string tail(size_t max) const {
        off_t size = ::lseek(fd, 0, SEEK_END);
        if (size <= 0) return {};
        off_t from = size > off_t(max) ? size - off_t(max) : 0;
        std::string out(size_t(size - from), '\0');
        ssize_t n = ::pread(fd, out.data(), out.size(), from);
        out.resize(n > 0 ? size_t(n) : 0);
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        return out;
    }
};

std::vector<std::string> child_environment(const Command& cmd) {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        bool overridden = false;
        for (const auto& [k, v] : cmd.env)
            overridden = overridden || (kv.size() > k.size() && kv.substr(0, k.size()) == k &&
                                        kv[k.size()] == '=');
        if (!overridden) out.emplace_back(kv);
    }
    for (const auto& [k, v] : cmd.env) out.push_back(k + "=" + v);
    return out;
}

// Runs `cmd` with stdin/stdout/stderr from the given descriptors (-1: /dev/null) and waits.
Status run_one(const Command& cmd, int in, int out, const TempFd& err) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in >= 0)
        posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO);
    else
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (out >= 0)
        posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
    else
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, err.fd, STDERR_FILENO);

    std::vector<char*> argv;
    for (const auto& a : cmd.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    auto env_strings = child_environment(cmd);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return Error{sqlstate::kUndefinedFile,
                     "cannot run " + cmd.argv[0] + ": " + std::strerror(rc) +
                         " (it comes with Debian's postgresql-client; scripts/deps.sh "
                         "installs it)"};
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return Error{sqlstate::kSystemError, "waitpid " + cmd.argv[0] + " failed"};
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Ok{};
    std::string why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                        : "signal " + std::to_string(WTERMSIG(status));
    return Error{sqlstate::kSystemError, cmd.argv[0] + " failed (" + why + "): " + err.tail(2000)};
}

// pg_dump and psql reach a shard with the rebalancer's own login, passed in the environment
// (no conninfo quoting, no password on a command line).
std::vector<std::pair<std::string, std::string>> login_env(const Endpoint& ep) {
    std::vector<std::pair<std::string, std::string>> env = {{"PGHOST", ep.host},
                                                            {"PGPORT", std::to_string(ep.port)},
                                                            {"PGDATABASE", ep.dbname},
                                                            {"PGCONNECT_TIMEOUT", "10"},
                                                            {"PGAPPNAME", "shardgate-rebalance"}};
    if (!ep.user.empty()) env.emplace_back("PGUSER", ep.user);
    if (!ep.password.empty()) env.emplace_back("PGPASSWORD", ep.password);
    return env;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

// The source's definition of `table` as pg_dump's -t pattern ("schema"."table" matches that
// exact table, whatever the search path).
Expected<std::string> dump_pattern(PGconn* c, const std::string& label, const std::string& table) {
    auto r = exec_params(c, label,
                         "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN "
                         "pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
                         {table});
    if (!r) return r.error();
    if (PQntuples(r->get()) != 1)
        return Error{sqlstate::kUndefinedTable,
                     label + ": table " + table +
                         " does not exist on the source either; create it on every "
                         "shard, or remove it from [[tables]]"};
    return std::string(PQgetvalue(r->get(), 0, 0));
}

Status copy_schema(const Endpoint& source, const Endpoint& target,
                   const std::vector<std::string>& only) {
    Command dump{{"pg_dump", "--schema-only", "--no-publications", "--no-subscriptions",
                  "--exclude-table=*.shardgate_staging_*",
                  // shardgate's own schema (two-phase commit decisions, the map stamp) is each
                  // shard's own, never copied.
                  "--exclude-schema=shardgate"},
                 login_env(source)};
    for (const auto& t : only) dump.argv.push_back("--table=" + t);
    Command load{{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"},
                 login_env(target)};
    return run_pipeline(dump, load);
}

// Columns (name and type) of every configured table must agree: rows are copied by column
// name, and a column of another type would fail mid-move or change the values.
Status compare_columns(const Config& cfg, const Endpoint& source, PGconn* sc,
                       const Endpoint& target, PGconn* tc, const std::vector<std::string>& skip) {
    for (const auto& t : cfg.tables) {
        if (std::find(skip.begin(), skip.end(), t.name) != skip.end()) continue;
        auto want = column_types(sc, source.label, t.name);
        if (!want) return want.error();
        auto got = column_types(tc, target.label, t.name);
        if (!got) return got.error();
        for (const auto& [col, type] : *want) {
            auto it = got->find(col);
            if (it == got->end() || it->second != type)
                return Error{sqlstate::kDatatypeMismatch,
                             target.label + ": table " + t.name + " differs from " + source.label +
                                 ": column " + col + " is " +
                                 (it == got->end() ? "missing" : it->second) + " there, " + type +
                                 " on " + source.label +
                                 "; give it the same definition (or drop the table on " +
                                 target.label + " to have the rebalancer copy it), then rerun"};
        }
        for (const auto& [col, type] : *got)
            if (!want->count(col))
                return Error{sqlstate::kDatatypeMismatch,
                             target.label + ": table " + t.name + " has column " + col +
                                 ", which " + source.label +
                                 " lacks; give every shard the same definition (or "
                                 "drop the table on " +
                                 target.label + "), then rerun"};
    }
    return Ok{};
}

}  // namespace

Status run_pipeline(const Command& producer, const Command& consumer) {
    // The producer's whole output first, then the consumer: psql --single-transaction would
    // commit a truncated script if pg_dump died halfway through a live pipe.
    TempFd out, err1, err2;
    if (out.fd < 0 || err1.fd < 0 || err2.fd < 0)
        return Error{sqlstate::kSystemError,
                     std::string("cannot create a temporary file: ") + std::strerror(errno)};
    if (auto st = run_one(producer, -1, out.fd, err1); !st) return st;
    if (::lseek(out.fd, 0, SEEK_SET) != 0)
        return Error{sqlstate::kSystemError, std::string("lseek failed: ") + std::strerror(errno)};
    return run_one(consumer, out.fd, -1, err2);
}

Expected<std::vector<std::string>> missing_tables(PGconn* c, const std::string& label,
                                                  const Config& cfg) {
    std::vector<std::string> out;
    for (const auto& t : cfg.tables) {
        auto r = exec_params(c, label, "SELECT to_regclass($1) IS NULL", {t.name});
        if (!r) return r.error();
        if (std::string(PQgetvalue(r->get(), 0, 0)) == "t") out.push_back(t.name);
    }
    return out;
}

Status ensure_schema(const Config& cfg, const Endpoint& source, PGconn* source_conn,
                     const Endpoint& target, PGconn* target_conn) {
    auto missing = missing_tables(target_conn, target.label, cfg);
    if (!missing) return missing.error();
    // Refuse a conflicting table before creating anything.
    if (auto st = compare_columns(cfg, source, source_conn, target, target_conn, *missing); !st)
        return st;
    if (!missing->empty()) {
        const bool bare = missing->size() == cfg.tables.size();
        std::vector<std::string> only;
        if (!bare)
            for (const auto& t : *missing) {
                auto p = dump_pattern(source_conn, source.label, t);
                if (!p) return p.error();
                only.push_back(*p);
            }
        spdlog::info("{}: lacks {}; copying {} from {} (pg_dump --schema-only | psql)",
                     target.label, join(*missing), bare ? "the schema" : "those tables",
                     source.label);
        if (auto st = copy_schema(source, target, only); !st)
            return Error{st.error().sqlstate,
                         target.label + " lacks table(s) " + join(*missing) +
                             " and copying the schema from " + source.label +
                             " failed: " + st.error().message + "\ncreate them on " + target.label +
                             " with the same definition as on the other shards, then rerun"};
        auto still = missing_tables(target_conn, target.label, cfg);
        if (!still) return still.error();
        if (!still->empty())
            return Error{sqlstate::kUndefinedTable,
                         target.label + ": table(s) " + join(*still) +
                             " still missing after copying the schema from " + source.label +
                             "; create them there, then rerun"};
    }
    return compare_columns(cfg, source, source_conn, target, target_conn, {});
}

}  // namespace sg::rebalance
