// Tarjan's strongly connected components over the joined wait-for graph (see wait_graph.h).
// Graphs are small (the waiting backends of a few shards), so clarity wins over speed.
#include "proxy/txn/wait_graph.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

namespace sg::proxy::txn {

namespace {

struct Edge {
    size_t to;
    int shard;
};

struct Graph {
    // Node keys: a transaction of this proxy (txn id) or a lone backend (shard, pid).
    std::map<uint64_t, size_t> txn_node;
    std::map<std::pair<int, int32_t>, size_t> backend_node;
    std::vector<uint64_t> node_txn;  // 0: a lone backend
    std::vector<std::vector<Edge>> out;

    size_t add(uint64_t txn) {
        node_txn.push_back(txn);
        out.emplace_back();
        return node_txn.size() - 1;
    }
    size_t node(int shard, int32_t pid, const std::map<std::pair<int, int32_t>, uint64_t>& owner) {
        if (auto it = owner.find({shard, pid}); it != owner.end()) {
            auto [t, fresh] = txn_node.try_emplace(it->second, 0);
            if (fresh) t->second = add(it->second);
            return t->second;
        }
        auto [b, fresh] = backend_node.try_emplace({shard, pid}, 0);
        if (fresh) b->second = add(0);
        return b->second;
    }
};

// Tarjan's algorithm, recursive (depth bounded by the number of waiting backends).
std::vector<std::vector<size_t>> components(const Graph& g) {
    const size_t n = g.out.size();
    std::vector<int> index(n, -1), low(n, 0);
    std::vector<bool> on_stack(n, false);
    std::vector<size_t> stack;
    std::vector<std::vector<size_t>> result;
    int next = 0;
    std::function<void(size_t)> visit = [&](size_t v) {
        index[v] = low[v] = next++;
        stack.push_back(v);
        on_stack[v] = true;
        for (const Edge& e : g.out[v]) {
            if (index[e.to] < 0) {
                visit(e.to);
                low[v] = std::min(low[v], low[e.to]);
            } else if (on_stack[e.to]) {
                low[v] = std::min(low[v], index[e.to]);
            }
        }
        if (low[v] == index[v]) {
            std::vector<size_t> comp;
            size_t w;
            do {
                w = stack.back();
                stack.pop_back();
                on_stack[w] = false;
                comp.push_back(w);
            } while (w != v);
            result.push_back(std::move(comp));
        }
    };
    for (size_t v = 0; v < n; ++v)
        if (index[v] < 0) visit(v);
    return result;
}

}  // namespace

std::vector<DeadlockVictim> find_deadlocks(const std::vector<TxnBackend>& backends,
                                           const std::vector<std::pair<uint64_t, int64_t>>& started,
                                           const std::vector<LockWait>& waits) {
    std::map<std::pair<int, int32_t>, uint64_t> owner;
    for (const auto& b : backends) owner[{b.shard, b.pid}] = b.txn;
    std::map<uint64_t, int64_t> start;
    for (const auto& [t, at] : started) start[t] = at;

    Graph g;
    // Which backend of a node waits on which shard: the victim's waits to cancel.
    std::vector<std::vector<std::pair<int, int32_t>>> waiting;
    for (const auto& w : waits) {
        const size_t from = g.node(w.shard, w.pid, owner);
        for (int32_t b : w.blockers) {
            if (b == 0) continue;  // a prepared transaction: waits for nothing
            const size_t to = g.node(w.shard, b, owner);
            if (to == from) continue;
            g.out[from].push_back({to, w.shard});
        }
        waiting.resize(g.out.size());
        waiting[from].emplace_back(w.shard, w.pid);
    }
    waiting.resize(g.out.size());

    std::vector<DeadlockVictim> found;
    for (const auto& comp : components(g)) {
        if (comp.size() < 2) continue;
        std::set<size_t> members(comp.begin(), comp.end());
        std::set<int> shards;
        for (size_t v : comp)
            for (const Edge& e : g.out[v])
                if (members.count(e.to)) shards.insert(e.shard);
        if (shards.size() < 2) continue;  // one shard's own cycle: its PostgreSQL breaks it
        DeadlockVictim victim;
        int64_t youngest = 0;
        bool any = false;
        for (size_t v : comp) {
            const uint64_t t = g.node_txn[v];
            if (t == 0) continue;
            victim.cycle.push_back(t);
            const int64_t at = start.count(t) ? start[t] : 0;
            if (!any || at > youngest || (at == youngest && t > victim.txn)) {
                youngest = at;
                victim.txn = t;
                any = true;
                victim.waiting.clear();
                for (const auto& wp : waiting[v]) {
                    // Only the waits that stay inside the cycle.
                    for (const Edge& e : g.out[v])
                        if (e.shard == wp.first && members.count(e.to)) {
                            victim.waiting.push_back(wp);
                            break;
                        }
                }
            }
        }
        if (!any || victim.waiting.empty()) continue;
        std::sort(victim.cycle.begin(), victim.cycle.end());
        victim.shards.assign(shards.begin(), shards.end());
        found.push_back(std::move(victim));
    }
    return found;
}

std::vector<int32_t> parse_pid_array(const std::string& text) {
    std::vector<int32_t> pids;
    if (text.size() < 2 || text.front() != '{' || text.back() != '}') return pids;
    int64_t cur = 0;
    bool have = false;
    for (size_t i = 1; i + 1 < text.size(); ++i) {
        const char c = text[i];
        if (c >= '0' && c <= '9') {
            cur = cur * 10 + (c - '0');
            if (cur > INT32_MAX) return {};
            have = true;
        } else if (c == ',' && have) {
            pids.push_back(static_cast<int32_t>(cur));
            cur = 0;
            have = false;
        } else {
            return {};
        }
    }
    if (have) pids.push_back(static_cast<int32_t>(cur));
    return pids;
}

}  // namespace sg::proxy::txn
