// Closing a client with a reason it can read: the login timeout, the idle timeout, SIGTERM's
// drain and SHUTDOWN send a FATAL ErrorResponse before the socket closes, as PostgreSQL does
// ("terminating connection due to administrator command"), instead of a bare EOF that libpq
// reports as "server closed the connection unexpectedly".
#include <spdlog/spdlog.h>

#include "proxy/session.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

void Session::terminate_with(std::string_view sqlstate, const std::string& message,
                             const std::string& why) {
    // Only when no reply is being written (the error must not land inside another message)
    // and on plain TCP (a TLS record cannot be written without suspending): best effort,
    // without waiting, since the caller is closing the connection now.
    if (!closing_ && !writing_ && !stream_.is_tls() && stream_.socket().is_open()) {
        std::string out;
        wire::MessageWriter w(out);
        wire::ErrorBuilder(wire::Severity::Fatal, sqlstate, message).encode_error(w);
        net::asio::const_buffer b(out.data(), out.size());
        error_code ec;
        net::send_now(stream_.socket().native_handle(), &b, 1, ec);
    }
    terminate(why);
}

}  // namespace sg::proxy
