#include "proxy/server_login.h"

#include <fmt/format.h>
#include <memory>

#include "common/sqlstate.h"
#include "proxy/auth/client_auth.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages/authentication.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/messages/startup.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace asio = net::asio;

namespace {

awaitable<std::string> connect_socket(net::tcp::socket& sock, const ServerTarget& t) {
    error_code ec;
    auto ex = sock.get_executor();
    std::vector<net::tcp::endpoint> eps;
    auto addr = asio::ip::make_address(t.host, ec);
    if (!ec) {
        eps.emplace_back(addr, t.port);
    } else {
        net::tcp::resolver res(ex);
        auto results =
            co_await res.async_resolve(t.host, std::to_string(t.port), net::ec_token(ec));
        if (ec) co_return fmt::format("cannot resolve host \"{}\": {}", t.host, ec.message());
        for (const auto& r : results) eps.push_back(r.endpoint());
    }
    co_await asio::async_connect(sock, eps, net::ec_token(ec));
    if (ec)
        co_return ec == asio::error::operation_aborted ? std::string("connect timed out")
                                                       : ec.message();
    co_return std::string();
}

}  // namespace

awaitable<LoginResult> login_to_server(net::tcp::socket& sock, const ServerTarget& t,
                                       std::string& rbuf, size_t& rlen) {
    LoginResult r;
    // One deadline for connect + login: closing the socket aborts whatever is pending.
    asio::steady_timer deadline(sock.get_executor(),
                                std::chrono::milliseconds(t.connect_timeout_ms));
    bool timed_out = false;
    // A deadline that fired just as the login ended has its handler queued already (cancel()
    // cannot withdraw it): it acts only while this frame, which `alive` lives in, exists.
    auto alive = std::make_shared<bool>(true);
    deadline.async_wait([&, weak = std::weak_ptr<bool>(alive)](error_code ec) {
        if (!ec && !weak.expired()) {
            timed_out = true;
            error_code ignore;
            sock.close(ignore);
        }
    });
    auto finish = [&](std::string err) {
        deadline.cancel();
        if (timed_out)
            err =
                fmt::format("no answer within {}={}", t.connect_timeout_key, t.connect_timeout_ms);
        r.error = std::move(err);
        return r;
    };

    if (std::string err = co_await connect_socket(sock, t); !err.empty()) co_return finish(err);

    std::string out;
    wire::MessageWriter w(out);
    wire::StartupMessage sm;
    // No application_name of our own: a client's RESET must fall back to the server default,
    // and each client's own name is applied as a session setting.
    sm.parameters = {{"user", t.user}, {"database", t.dbname}};
    wire::encode(sm, w);
    error_code ec;
    co_await asio::async_write(sock, asio::buffer(out), net::ec_token(ec));
    if (ec) co_return finish("sending the startup packet failed: " + ec.message());

    auth::ClientAuth ca(t.user, t.password);
    rlen = 0;
    if (rbuf.size() < 8192) rbuf.resize(8192);
    for (;;) {
        auto st = wire::parse_frame(wire::as_bytes(std::string_view(rbuf.data(), rlen)), 1 << 20);
        if (std::holds_alternative<wire::NeedMore>(st)) {
            if (rlen == rbuf.size()) rbuf.resize(rbuf.size() * 2);
            size_t n = co_await sock.async_read_some(
                asio::buffer(rbuf.data() + rlen, rbuf.size() - rlen), net::ec_token(ec));
            if (ec)
                co_return finish(ec == asio::error::eof
                                     ? "the shard closed the connection during login"
                                     : "reading from the shard failed: " + ec.message());
            rlen += n;
            continue;
        }
        if (std::holds_alternative<wire::Malformed>(st))
            co_return finish("the shard sent a malformed message");
        const auto f = std::get<wire::Frame>(st);
        const size_t size = f.size;
        switch (f.type) {
            case 'R': {
                wire::Authentication req;
                if (!wire::decode(f.body, req).ok())
                    co_return finish("the shard sent a malformed authentication request");
                out.clear();
                auth::AuthStep step = ca.on_request(req, w);
                if (step.failed())
                    r.refused_sqlstate = sqlstate::kInvalidAuthorizationSpecification;
                if (step.failed())
                    co_return finish(
                        fmt::format("authentication as \"{}\" failed: {}", t.user, step.reason));
                if (!out.empty()) {
                    co_await asio::async_write(sock, asio::buffer(out), net::ec_token(ec));
                    if (ec) co_return finish("sending credentials failed: " + ec.message());
                }
                break;
            }
            case 'S': {
                wire::ParameterStatus ps;
                if (wire::decode(f.body, ps).ok())
                    r.parameters[std::string(ps.name)] = std::string(ps.value);
                break;
            }
            case 'K': {
                wire::BackendKeyData k;
                if (wire::decode(f.body, k).ok()) {
                    r.backend_pid = k.process_id;
                    r.backend_secret = k.secret_key;
                }
                break;
            }
            case 'E': {
                wire::ErrorResponse e;
                std::string msg = "the shard refused the login";
                r.refused_sqlstate = sqlstate::kInternalError;
                if (wire::decode(f.body, e).ok()) {
                    msg = fmt::format("{} (SQLSTATE {})", e.message(), e.sqlstate());
                    r.refused_sqlstate = std::string(e.sqlstate());
                }
                co_return finish(msg);
            }
            case 'Z': {
                std::memmove(rbuf.data(), rbuf.data() + size, rlen - size);
                rlen -= size;
                co_return finish({});
            }
            default:
                break;  // NoticeResponse, NegotiateProtocolVersion: nothing to do
        }
        std::memmove(rbuf.data(), rbuf.data() + size, rlen - size);
        rlen -= size;
    }
}

}  // namespace sg::proxy
