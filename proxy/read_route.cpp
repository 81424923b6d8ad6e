#include "proxy/read_route.h"

namespace sg::proxy {

ReadFrom effective_read_from(const router::Analysis& a, const UserConfig* user,
                             const ProxyConfig& p) {
    if (a.hints.read_from)
        if (auto r = parse_read_from(*a.hints.read_from))
            return *r;  // (invalid ones the router refused)
    if (user && user->read_from) return *user->read_from;
    return p.read_from;
}

bool read_may_use_standby(const router::Analysis& a, bool in_transaction, PoolMode mode) {
    return a.kind == router::StatementKind::Select && !a.is_write && a.replica_safe && !a.refusal &&
           !in_transaction && mode == PoolMode::Transaction;
}

bool counts_as_write(const router::Analysis& a) {
    using K = router::StatementKind;
    switch (a.kind) {
        case K::Empty:
        case K::Begin:
        case K::Commit:
        case K::Rollback:
        case K::Savepoint:
        case K::Set:
        case K::Show:
        case K::SetShard:
        case K::ResetShard:
        case K::ShowShard:
            return false;
        case K::Select:
            return a.is_write || !a.replica_safe;
        default:
            return true;
    }
}

int choose_read_endpoint(ReadFrom mode, bool primary_up, int primary_busy,
                         std::span<const ReadOption> standbys) {
    if (mode == ReadFrom::Primary) return -1;
    const ReadOption* best = nullptr;
    for (const auto& o : standbys)
        if (!best || o.busy < best->busy) best = &o;
    if (!best) return -1;
    if (mode == ReadFrom::Any && primary_up && primary_busy < best->busy) return -1;
    return best->endpoint;
}

}  // namespace sg::proxy
