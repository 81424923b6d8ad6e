// Wire-layer hot paths: what every extended-protocol round trip costs the proxy before routing
// (frame + decode a Bind) and on the way back (encode DataRow / CommandComplete).
#include <benchmark/benchmark.h>

#include <string>
#include <variant>

#include "proxy/wire/frame.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/row_data.h"

namespace {

using namespace sg::wire;

// A pgbench-like Bind: unnamed portal, named statement, three text parameters.
std::string pgbench_bind() {
    std::string out;
    MessageWriter w(out);
    Bind bind;
    bind.statement = "P0_1";
    bind.params = {as_bytes("42"), as_bytes("-3141"), as_bytes("2024-06-01 12:00:00")};
    encode(bind, w);
    return out;
}

void BM_FrameAndDecodeBind(benchmark::State& state) {
    const std::string wire_bytes = pgbench_bind();
    Bind bind;  // reused, as a session reuses its decode target
    for (auto _ : state) {
        const FrameStatus status = parse_frame(as_bytes(wire_bytes));
        const Frame& frame = std::get<Frame>(status);
        Status s = decode(frame.body, bind);
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(bind.params.data());
    }
}
BENCHMARK(BM_FrameAndDecodeBind);

void BM_EncodeDataRow(benchmark::State& state) {
    const std::string name = "a fairly ordinary text column";
    DataRow row;
    row.columns = {as_bytes("123456"), as_bytes(name), std::nullopt, as_bytes("2024-06-01")};
    std::string out;
    MessageWriter w(out);
    for (auto _ : state) {
        out.clear();  // capacity kept, as in a session's output buffer
        encode(row, w);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_EncodeDataRow);

void BM_EncodeCommandComplete(benchmark::State& state) {
    std::string out;
    MessageWriter w(out);
    for (auto _ : state) {
        out.clear();
        encode_command_complete("SELECT", 1, w);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_EncodeCommandComplete);

}  // namespace
