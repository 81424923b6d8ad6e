// The startup side of a client session: SSL/GSS negotiation, cancel requests, the startup
// packet, authentication, and the first ReadyForQuery.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/sqlstate.h"
#include "proxy/auth/server_auth.h"
#include "proxy/describe_type.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/session_settings.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/messages/startup.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace asio = net::asio;

namespace {

// What a client is told at login when no shard could be asked (the admin console, or every
// shard down): the values libpq and the drivers need to start.
const std::map<std::string, std::string>& fallback_parameters() {
    static const std::map<std::string, std::string> p{
        {"server_version", "15.0 (shardgate)"},
        {"server_encoding", "UTF8"},
        {"client_encoding", "UTF8"},
        {"DateStyle", "ISO, MDY"},
        {"TimeZone", "UTC"},
        {"integer_datetimes", "on"},
        {"IntervalStyle", "postgres"},
        {"standard_conforming_strings", "on"},
        {"is_superuser", "off"},
        {"application_name", ""},
    };
    return p;
}

}  // namespace

awaitable<bool> Session::startup() {
    const auto& pcfg = proxy_.config().proxy;
    // Login watchdog: a client that does not finish startup + authentication in time is cut off.
    auto watchdog = std::make_shared<asio::steady_timer>(
        proxy_.io(), std::chrono::milliseconds(pcfg.login_timeout_ms));
    watchdog->async_wait([this, watchdog](error_code ec) {
        if (!ec && (state_ == SessionState::Startup || state_ == SessionState::Authenticating)) {
            spdlog::info("client {}: login timeout", peer_);
            terminate_with(sqlstate::kProtocolViolation,
                           "canceling authentication due to timeout (login_timeout_ms)",
                           "login timeout");
        }
    });
    struct Disarm {
        std::shared_ptr<asio::steady_timer> t;
        ~Disarm() { t->cancel(); }
    } disarm{watchdog};

    wire::StartupMessage msg;
    for (;;) {
        auto st = wire::parse_startup_frame(
            wire::as_bytes(std::string_view(cbuf_.data() + cstart_, clen_ - cstart_)));
        if (std::holds_alternative<wire::NeedMore>(st)) {
            if (!co_await read_more()) co_return false;
            continue;
        }
        if (auto* bad = std::get_if<wire::Malformed>(&st)) {
            co_await fatal(sqlstate::kProtocolViolation,
                           fmt::format("invalid startup packet: {}", bad->reason));
            co_return false;
        }
        const auto& f = std::get<wire::StartupFrame>(st);
        cstart_ += f.size;
        switch (f.kind) {
            case wire::StartupKind::SslRequest: {
                // Bytes pipelined behind SSLRequest were sent before the client knew whether
                // TLS would be used: refuse them as PostgreSQL does, whatever the answer.
                if (cstart_ != clen_) {
                    co_await fatal(sqlstate::kProtocolViolation,
                                   "received unencrypted data after SSL request");
                    co_return false;
                }
                if (!proxy_.tls() || stream_.is_tls()) {
                    co_await send("N");
                    continue;
                }
                // Bytes after SSLRequest but before the handshake would be read as plaintext
                // outside TLS — a man-in-the-middle injection vector (CVE-2021-23222): refuse.
                if (cstart_ != clen_) {
                    spdlog::warn("client {}: sent data before the TLS handshake; closing", peer_);
                    co_return false;
                }
                co_await send("S");
                cstart_ = clen_ = 0;
                if (auto ec = co_await stream_.start_tls(*proxy_.tls())) {
                    spdlog::info("client {}: TLS handshake failed: {}", peer_, ec.message());
                    co_return false;
                }
                continue;
            }
            case wire::StartupKind::GssEncRequest:
                co_await send("N");
                continue;
            case wire::StartupKind::CancelRequest: {
                wire::CancelRequest c;
                if (wire::decode(f, c).ok()) {
                    Session* target = proxy_.find_session(c.process_id);
                    if (target && target->secret() == c.secret_key) target->cancel_running();
                }
                co_return false;  // a cancel connection never gets a reply
            }
            case wire::StartupKind::UnsupportedProtocol:
                co_await fatal(sqlstate::kFeatureNotSupported,
                               wire::unsupported_protocol_message(f.code));
                co_return false;
            case wire::StartupKind::Startup:
                if (!wire::decode(f, msg).ok()) {
                    co_await fatal(sqlstate::kProtocolViolation, "invalid startup packet");
                    co_return false;
                }
                break;
        }
        break;
    }
    transition(SessionState::Authenticating);
    user_name_ = std::string(msg.user());
    database_ = std::string(msg.database());
    for (const auto& p : msg.parameters)
        startup_params_[std::string(p.name)] = std::string(p.value);
    if (user_name_.empty()) {
        co_await fatal(sqlstate::kInvalidAuthorizationSpecification,
                       "no PostgreSQL user name specified in startup packet");
        co_return false;
    }
    const Config& cfg = proxy_.config();
    user_list_ = proxy_.users();
    user_ = nullptr;
    for (const auto& u : *user_list_)
        if (u.name == user_name_) user_ = &u;
    admin_ = database_ == cfg.admin.database;

    // (A named local, not a conditional temporary: GCC 12 mishandles those inside co_await.)
    static const UserConfig unknown_user;
    const UserConfig& login_user = user_ ? *user_ : unknown_user;
    bool authenticated = co_await authenticate(login_user);
    if (!authenticated) co_return false;
    if (admin_ && !user_->admin) {
        co_await fatal(
            sqlstate::kInvalidAuthorizationSpecification,
            fmt::format("user \"{}\" is not an admin user of the shardgate console", user_name_));
        co_return false;
    }
    if (!admin_ && database_ != cfg.sharding.database) {
        co_await fatal(sqlstate::kInvalidCatalogName,
                       fmt::format("database \"{}\" does not exist (this shardgate serves \"{}\")",
                                   database_, cfg.sharding.database));
        co_return false;
    }
    if (proxy_.shutting_down()) {
        co_await fatal(sqlstate::kAdminShutdown, "shardgate is shutting down");
        co_return false;
    }

    // Parameters the client sees: the default shard's, with what the client asked for on top.
    std::map<std::string, std::string> params;
    if (!admin_) {
        Pool& pool = proxy_.pool(cfg.default_shard_index(), *user_);
        if (pool.server_parameters().empty()) {
            auto got = co_await pool.acquire();
            if (auto* s = std::get_if<std::shared_ptr<ServerConn>>(&got))
                pool.release(std::move(*s));
        }
        params = pool.server_parameters();
    }
    if (params.empty()) params = fallback_parameters();
    for (const auto& [name, value] : startup_params_) {
        if (is_connection_parameter(name)) continue;
        settings_tracker_.add_startup(name, startup_setting_statement(name, value));
        for (auto& [pname, pvalue] : params)
            if (strcasecmp(pname.c_str(), name.c_str()) == 0) pvalue = value;
    }

    pid_ = proxy_.register_session(this, secret_);
    // One id for the client everywhere: SHOW CLIENTS' pid, SHOW SLOW's client_id, the logs.
    client_id_ = uint64_t(pid_);
    peer_ = fmt::format("{} ({})", pid_, addr_);
    std::string out;
    wire::MessageWriter w(out);
    for (const auto& [name, value] : params) wire::encode(wire::ParameterStatus{name, value}, w);
    wire::encode(wire::BackendKeyData{pid_, secret_}, w);
    wire::append_ready_for_query(out, 'I');
    transition(SessionState::Ready);
    spdlog::debug("client {}: logged in as {} to {}", peer_, user_name_, database_);
    auto awaited = co_await send(out);
    co_return awaited;
}

awaitable<bool> Session::authenticate(const UserConfig& user) {
    const auth::Credential* cred = user_ ? proxy_.credential(user_->name) : nullptr;
    auth::ServerAuth sa(user_ ? user.auth : AuthMethod::ScramSha256, user_name_, cred);
    std::string out;
    wire::MessageWriter w(out);
    auth::AuthStep step = sa.start(w);
    for (;;) {
        if (step.failed()) {
            out.clear();
            sa.encode_failure(step, w);
            ++proxy_.counters().login_failures;
            spdlog::info("client {}: authentication failed for user \"{}\": {}", peer_, user_name_,
                         step.reason);
            co_await send(out);
            co_return false;
        }
        if (step.status == auth::AuthStatus::Success) {
            // AuthenticationOk is already in `out`; the rest of the login follows it.
            auto awaited = co_await send(out);
            co_return awaited;
        }
        if (!out.empty()) {  // (no co_await inside && or ?:, which GCC 12 miscompiles)
            bool sent = co_await send(out);
            if (!sent) co_return false;
        }
        out.clear();
        // The client's answer: one 'p' message, small.
        for (;;) {
            auto st = wire::parse_frame(
                wire::as_bytes(std::string_view(cbuf_.data() + cstart_, clen_ - cstart_)), 8192);
            if (std::holds_alternative<wire::NeedMore>(st)) {
                if (!co_await read_more()) co_return false;
                continue;
            }
            if (auto* bad = std::get_if<wire::Malformed>(&st)) {
                co_await fatal(sqlstate::kProtocolViolation,
                               fmt::format("invalid authentication message: {}", bad->reason));
                co_return false;
            }
            const auto& f = std::get<wire::Frame>(st);
            cstart_ += f.size;
            if (f.type != 'p') {
                co_await fatal(sqlstate::kProtocolViolation,
                               fmt::format("expected a password message, got message type {}",
                                           describe_type(f.type)));
                co_return false;
            }
            step = sa.on_message(f.body, w);
            break;
        }
    }
}

}  // namespace sg::proxy
