// An INSERT ... VALUES rebuilt with only some of its rows (those one shard receives), for
// the proxy's split of a multi-row INSERT across shards.
#include <algorithm>
#include <map>
#include "router/param_keys.h"
#include "router/pg_array.h"
#include "router/router.h"

namespace sg::router {

RenderedInsert render_insert_subset(const Analysis& a, std::string_view sql,
                                    const std::vector<uint32_t>& rows) {
    RenderedInsert out;
    std::map<int, int> renumbered;  // old $n -> new $k, in order of first appearance
    auto emit = [&](uint32_t begin, uint32_t end) {
        uint32_t at = begin;
        for (const ParamUse& p : a.params) {
            if (p.offset < begin || p.offset >= end) continue;
            out.sql.append(sql.substr(at, p.offset - at));
            auto [it, fresh] = renumbered.try_emplace(p.number, 0);
            if (fresh) {
                out.param_map.push_back(p.number);
                it->second = static_cast<int>(out.param_map.size());
            }
            out.sql += "$" + std::to_string(it->second);
            at = p.offset + p.length;
        }
        out.sql.append(sql.substr(at, end - at));
    };
    emit(a.stmt_begin, a.values_begin);
    for (size_t i = 0; i < rows.size(); ++i) {
        if (i > 0) out.sql += ", ";
        emit(a.rows[rows[i]].begin, a.rows[rows[i]].end);
    }
    emit(a.values_end, a.stmt_end);
    return out;
}

}  // namespace sg::router
