#include "proxy/large_statement.h"

#include <algorithm>

#include "proxy/function_guard.h"
#include "proxy/stats/query_event.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

LargeTextFacts study_large_text(std::string_view sql, const router::TableCatalog& catalog) {
    LargeTextFacts f;
    f.state_use = session_state_use(sql);
    f.calls_function = may_call_function(sql);
    f.text_hash = stats::text_hash(sql);
    f.shaped = router::extract_literals(sql, f.shape);
    if (f.shaped)
        f.shape_analysis =
            std::make_shared<const router::Analysis>(router::analyze(f.shape.text, catalog));
    return f;
}

std::shared_ptr<const router::Analysis> analyze_large_text(std::string_view sql,
                                                           const router::TableCatalog& catalog) {
    // analyze() takes a std::string (libpg_query reads a NUL-terminated text): one copy, made
    // here on the worker rather than on the loop.
    return std::make_shared<const router::Analysis>(router::analyze(std::string(sql), catalog));
}

std::shared_ptr<const stats::Shape> large_stats_shape(std::string_view text) {
    return stats::make_shape(std::string(text));
}

std::vector<ShardQuery> shard_queries(const router::Analysis& a, std::string_view sql,
                                      const router::Route& r, const std::vector<int>& read_legs) {
    std::vector<ShardQuery> queries;
    if (!r.insert_rows.empty()) {
        for (const auto& part : r.insert_rows)
            queries.push_back({part.shard, router::render_insert_subset(a, sql, part.rows).sql});
        return queries;
    }
    const bool rewritten = a.merge && !a.merge->shard_sql.empty() && r.shards.size() > 1;
    for (size_t i = 0; i < r.shards.size(); ++i)
        queries.push_back({r.shards[i], rewritten ? a.merge->shard_sql : std::string(sql),
                           i < read_legs.size() ? read_legs[i] : -1});
    return queries;
}

std::string query_with_inserted_text(std::string_view sql, uint32_t at, std::string_view list) {
    const size_t cut = std::min<size_t>(at, sql.size());
    std::string frame;
    frame.reserve(wire::kFrameHeaderSize + sql.size() + list.size() + 1);
    wire::MessageWriter w(frame);
    w.begin('Q');
    w.bytes(sql.substr(0, cut));
    w.bytes(list);
    w.bytes(sql.substr(cut));
    w.u8(0);
    w.end();
    return frame;
}

}  // namespace sg::proxy
