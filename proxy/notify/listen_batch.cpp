#include "proxy/notify/listen_batch.h"

#include <map>
#include <set>
#include <string>

#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/extended_query.h"

namespace sg::proxy::notify {

namespace {

wire::Bytes bytes(std::string_view s) {
    return wire::as_bytes(s);
}

}  // namespace

std::optional<ListenBatchPlan> plan_listen_batch(std::string_view batch,
                                                 const StatementText& statement, bool in_block,
                                                 bool portals_on_server) {
    ListenBatchPlan plan;
    // Statements parsed by this batch (a later Parse of a name replaces it; nullopt: closed)
    // and portals bound by it and not yet executed.
    std::map<std::string, std::optional<ListenStatement>, std::less<>> parsed;
    std::map<std::string, ListenStatement, std::less<>> portals;
    std::set<std::string, std::less<>> executed_portals;
    bool listens = false;  // some message is about a LISTEN / UNLISTEN (not only Close)
    auto listen_statement = [&](std::string_view name) -> std::optional<ListenStatement> {
        if (auto it = parsed.find(name); it != parsed.end()) return it->second;
        auto text = statement(name);
        if (!text) return std::nullopt;
        return parse_listen_statement(*text);
    };
    // The session validated the batch's frames when it read them; a short one ends the walk (and
    // the batch is not one of these).
    wire::FrameCursor frames(batch);
    bool ended = false;
    while (const auto f = frames.next()) {
        if (ended) return std::nullopt;  // nothing after the Sync / Flush
        ListenBatchStep step;
        step.frame = f->whole;
        step.body = f->body;
        switch (f->type) {
            case 'P': {
                wire::Parse p;
                if (!wire::decode(bytes(f->body), p).ok() || !p.param_types.empty())
                    return std::nullopt;
                auto st = parse_listen_statement(p.query);
                if (!st) return std::nullopt;
                // PostgreSQL refuses a second Parse of a named statement (42P05).
                if (!p.statement.empty()) {
                    auto it = parsed.find(p.statement);
                    if (it != parsed.end() ? it->second.has_value()
                                           : statement(p.statement).has_value())
                        return std::nullopt;
                }
                parsed[std::string(p.statement)] = *st;
                step.kind = ListenBatchStep::Parse;
                step.st = std::move(*st);
                plan.parses_listen = listens = true;
                break;
            }
            case 'B': {
                wire::Bind b;
                if (!wire::decode(bytes(f->body), b).ok() || !b.params.empty()) return std::nullopt;
                // A named portal bound twice: PostgreSQL's 42P03 comes from the shard path.
                if (!b.portal.empty() && portals.count(b.portal)) return std::nullopt;
                auto st = listen_statement(b.statement);
                if (!st) return std::nullopt;
                portals[std::string(b.portal)] = std::move(*st);
                if (auto it = executed_portals.find(b.portal); it != executed_portals.end())
                    executed_portals.erase(it);
                step.kind = ListenBatchStep::Bind;
                listens = true;
                break;
            }
            case 'D': {
                wire::Describe d;
                if (!wire::decode(bytes(f->body), d).ok()) return std::nullopt;
                if (d.target == wire::Target::Statement) {
                    if (!listen_statement(d.name)) return std::nullopt;
                    step.kind = ListenBatchStep::DescribeStatement;
                } else {
                    if (!portals.count(d.name)) return std::nullopt;
                    step.kind = ListenBatchStep::DescribePortal;
                }
                listens = true;
                break;
            }
            case 'E': {
                wire::Execute e;
                if (!wire::decode(bytes(f->body), e).ok()) return std::nullopt;
                auto it = portals.find(e.portal);
                if (it == portals.end()) return std::nullopt;  // a portal of another batch
                step.kind = ListenBatchStep::Execute;
                step.st = std::move(it->second);
                portals.erase(it);
                executed_portals.emplace(e.portal);
                ++plan.executes;
                listens = true;
                break;
            }
            case 'C': {
                wire::Close c;
                if (!wire::decode(bytes(f->body), c).ok()) return std::nullopt;
                if (c.target == wire::Target::Statement) {
                    if (auto it = parsed.find(c.name); it != parsed.end())
                        it->second.reset();
                    else
                        parsed[std::string(c.name)] = std::nullopt;
                } else if (portals.count(c.name)) {
                    return std::nullopt;  // bound and closed unexecuted: not worth carrying
                } else if (!executed_portals.count(c.name) && portals_on_server) {
                    return std::nullopt;  // a portal of the open transaction, on its server
                }
                step.kind = ListenBatchStep::Close;
                break;
            }
            case 'S':
                step.kind = ListenBatchStep::Sync;
                ended = true;
                break;
            case 'H':
                step.kind = ListenBatchStep::Flush;
                ended = true;
                break;
            default:
                return std::nullopt;
        }
        plan.steps.push_back(std::move(step));
    }
    if (!ended || !listens || !frames.at_end() || !portals.empty()) return std::nullopt;
    // Outside a transaction block an Execute commits at the Sync: it must be in this batch.
    if (!in_block && plan.executes > 0 && plan.steps.back().kind != ListenBatchStep::Sync)
        return std::nullopt;
    return plan;
}

}  // namespace sg::proxy::notify
