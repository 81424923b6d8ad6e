// Router hot-path costs (issue 4 targets: <= 1 us for a Bind of a cached prepared statement,
// <= 10 us for an uncached simple query).
#include <benchmark/benchmark.h>

#include "router/analyzer.h"
#include "router/hash.h"
#include "router/literals.h"
#include "router/router.h"
#include "router/shard_map.h"
#include "router/statement_cache.h"

namespace sg::router {
namespace {

TableCatalog bench_catalog() {
    return TableCatalog(
        {TableConfig{"pgbench_accounts", TableKind::Sharded, "aid", KeyType::BigInt}});
}

const ShardMap& bench_map() {
    static const ShardMap map = ShardMap::make_default(12, {"s0", "s1", "s2", "s3"});
    return map;
}

void BM_HashAndBucketLookup(benchmark::State& state) {
    const ShardMap& map = bench_map();
    int64_t aid = 1;
    for (auto _ : state) {
        auto key = canonical_int(KeyType::BigInt, aid++);
        uint16_t shard = map.shard_of_bucket(bucket_of_key(*key, map.bucket_bits()));
        benchmark::DoNotOptimize(shard);
    }
}
BENCHMARK(BM_HashAndBucketLookup);

// Parse'd once; each iteration is one Bind with a text-format key parameter.
void BM_RouteCachedPreparedText(benchmark::State& state) {
    StatementCache cache(1024, bench_catalog());
    auto analysis = cache.get("SELECT abalance FROM pgbench_accounts WHERE aid = $1");
    const std::string value = "123456";
    Params params = {Param{false, ParamFormat::Text, value}};
    for (auto _ : state) {
        Route r = route(*analysis, params, bench_map(), RouterContext{});
        benchmark::DoNotOptimize(r.shards.data());
    }
}
BENCHMARK(BM_RouteCachedPreparedText);

void BM_RouteCachedPreparedBinary(benchmark::State& state) {
    StatementCache cache(1024, bench_catalog());
    auto analysis = cache.get("SELECT abalance FROM pgbench_accounts WHERE aid = $1");
    const std::string value("\x00\x00\x00\x00\x00\x01\xe2\x40", 8);
    Params params = {Param{false, ParamFormat::Binary, value}};
    for (auto _ : state) {
        Route r = route(*analysis, params, bench_map(), RouterContext{});
        benchmark::DoNotOptimize(r.shards.data());
    }
}
BENCHMARK(BM_RouteCachedPreparedBinary);

// A simple query never seen before: parse + analyse + route.
void BM_RouteUncachedSimpleQuery(benchmark::State& state) {
    const TableCatalog catalog = bench_catalog();
    const std::string sql = "SELECT abalance FROM pgbench_accounts WHERE aid = 123";
    for (auto _ : state) {
        Analysis a = analyze(sql, catalog);
        Route r = route(a, {}, bench_map(), RouterContext{});
        benchmark::DoNotOptimize(r.shards.data());
    }
}
BENCHMARK(BM_RouteUncachedSimpleQuery);

// The same text repeated: an LRU hit + route.
void BM_RouteRepeatedSimpleQuery(benchmark::State& state) {
    StatementCache cache(1024, bench_catalog());
    const std::string sql = "SELECT abalance FROM pgbench_accounts WHERE aid = 123";
    for (auto _ : state) {
        auto a = cache.get(sql);
        Route r = route(*a, {}, bench_map(), RouterContext{});
        benchmark::DoNotOptimize(r.shards.data());
    }
}
BENCHMARK(BM_RouteRepeatedSimpleQuery);

// What the proxy does for a simple query it has not seen with these constants: extract the
// literals, find the shape's analysis, route with the constants as text parameters.
void BM_RouteNewConstantsViaShape(benchmark::State& state) {
    StatementCache cache(1024, bench_catalog());
    LiteralShape shape;
    Params params;
    int64_t aid = 1;
    std::string sql;
    for (auto _ : state) {
        sql =
            "SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(aid++ % 1000000);
        extract_literals(sql, shape);
        auto a = cache.find(shape.text);
        if (!a) a = cache.get(shape.text);
        params.clear();
        for (const auto& v : shape.values) params.push_back({false, ParamFormat::Text, v});
        Route r = route(*a, params, bench_map(), RouterContext{});
        benchmark::DoNotOptimize(r.shards.data());
    }
}
BENCHMARK(BM_RouteNewConstantsViaShape);

}  // namespace
}  // namespace sg::router
