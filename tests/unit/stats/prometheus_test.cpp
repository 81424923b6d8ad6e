#include "proxy/stats/prometheus.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "stats_test_util.h"

namespace sg::stats {
namespace {

using testing::event;
using testing::kMs;

// A parsed sample of the text format (version 0.0.4).
struct Sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

// A strict reader of the exposition: fails the test on any line the format does not allow.
struct Parsed {
    std::map<std::string, std::string> types;  // family -> type
    std::vector<Sample> samples;

    std::vector<Sample> find(const std::string& name,
                             const std::map<std::string, std::string>& having = {}) const {
        std::vector<Sample> out;
        for (const auto& s : samples) {
            if (s.name != name) continue;
            bool ok = true;
            for (const auto& [k, v] : having) ok = ok && s.labels.count(k) && s.labels.at(k) == v;
            if (ok) out.push_back(s);
        }
        return out;
    }
};

bool valid_name(const std::string& n) {
    if (n.empty() ||
        !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_' || n[0] == ':'))
        return false;
    for (char c : n)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
    return true;
}

std::string family_of(const std::string& sample, const std::map<std::string, std::string>& types) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s(suffix);
        if (sample.size() > s.size() &&
            sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
            const std::string base = sample.substr(0, sample.size() - s.size());
            auto it = types.find(base);
            if (it != types.end() && (it->second == "histogram" || it->second == "summary"))
                return base;
        }
    }
    return sample;
}

Parsed parse(const std::string& text) {
    Parsed p;
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    std::istringstream in(text);
    std::string line, current;
    std::set<std::string> finished;
    while (std::getline(in, line)) {
        if (line.rfind("# HELP ", 0) == 0) continue;
        if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream t(line.substr(7));
            std::string name, type;
            t >> name >> type;
            EXPECT_TRUE(valid_name(name)) << line;
            EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram" ||
                        type == "summary")
                << line;
            EXPECT_FALSE(p.types.count(name)) << "family declared twice: " << name;
            if (!current.empty()) finished.insert(current);
            current = name;
            p.types[name] = type;
            continue;
        }
        EXPECT_NE(line[0], '#') << line;
        Sample s;
        size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
        s.name = line.substr(0, i);
        EXPECT_TRUE(valid_name(s.name)) << line;
        if (i < line.size() && line[i] == '{') {
            ++i;
            while (i < line.size() && line[i] != '}') {
                const size_t eq = line.find('=', i);
                EXPECT_NE(eq, std::string::npos) << line;
                const std::string key = line.substr(i, eq - i);
                EXPECT_TRUE(valid_name(key)) << line;
                EXPECT_EQ(line.at(eq + 1), '"') << line;
                std::string value;
                size_t j = eq + 2;
                for (; j < line.size() && line[j] != '"'; ++j) {
                    if (line[j] == '\\') {
                        const char n = line.at(++j);
                        EXPECT_TRUE(n == '\\' || n == '"' || n == 'n') << line;
                        value += n == 'n' ? '\n' : n;
                    } else {
                        value += line[j];
                    }
                }
                EXPECT_LT(j, line.size()) << "unterminated label value: " << line;
                s.labels[key] = value;
                i = j + 1;
                if (i < line.size() && line[i] == ',') ++i;
            }
            ++i;
        }
        EXPECT_EQ(line.at(i), ' ') << line;
        const std::string v = line.substr(i + 1);
        char* end = nullptr;
        s.value = std::strtod(v.c_str(), &end);
        EXPECT_EQ(*end, '\0') << "bad value: " << line;
        const std::string fam = family_of(s.name, p.types);
        EXPECT_EQ(fam, current) << "sample outside its family's group: " << line;
        EXPECT_FALSE(finished.count(fam)) << line;
        p.samples.push_back(std::move(s));
    }
    return p;
}

QueryStats workload() {
    auto c = testing::config(100, 3);
    c.top_k_metrics = 2;
    QueryStats s(c);
    for (int i = 0; i < 1000; ++i) s.record(event("SELECT * FROM a WHERE id = 1", 3 * kMs));
    for (int i = 0; i < 10; ++i)
        s.record(event("SELECT * FROM b WHERE note = 'x \"quoted\" \\ back'", 700 * kMs));
    s.record(event("SELECT * FROM c WHERE id = 1", kMs));
    s.record(event("INSERT INTO d VALUES (1)", kMs, "23505"));
    return s;
}

ProxyMetrics proxy_metrics() {
    ProxyMetrics m;
    m.pools.push_back({"s0", "app", 2, 3, 1, 5, 100, 2, 0.25});
    m.shards.push_back({"s0", 1012, 1, 0, 5000, 6000, 1.5});
    m.clients = 4;
    m.clients_accepted = 9;
    m.bytes_in = 123;
    m.bytes_out = 456;
    m.uptime_seconds = 12.5;
    return m;
}

TEST(Prometheus, ParsesBackAndCarriesTheFigures) {
    const QueryStats s = workload();
    const Parsed p = parse(render_prometheus(s, proxy_metrics()));
    EXPECT_EQ(p.types.at("shardgate_queries_total"), "counter");
    EXPECT_EQ(p.types.at("shardgate_query_duration_seconds"), "histogram");
    ASSERT_EQ(p.find("shardgate_queries_total").size(), 1u);
    EXPECT_EQ(
        p.find("shardgate_queries_total", {{"database", "shop"}, {"user", "app"}}).at(0).value,
        1012);
    EXPECT_EQ(p.find("shardgate_query_errors_total", {{"sqlstate", "23505"}}).at(0).value, 1);
    EXPECT_EQ(p.find("shardgate_query_duration_seconds_count").at(0).value, 1012);
    EXPECT_NEAR(p.find("shardgate_query_duration_seconds_sum").at(0).value, 3 + 7 + 0.002, 1e-9);
    EXPECT_EQ(p.find("shardgate_pool_active_connections", {{"shard", "s0"}}).at(0).value, 2);
    EXPECT_EQ(p.find("shardgate_shard_queries_total", {{"shard", "s0"}}).at(0).value, 1012);
    EXPECT_EQ(p.find("shardgate_client_connections").at(0).value, 4);
}

TEST(Prometheus, HistogramBucketsAreCumulative) {
    const Parsed p = parse(render_prometheus(workload(), {}));
    const auto buckets = p.find("shardgate_query_duration_seconds_bucket");
    ASSERT_EQ(buckets.size(), kDurationBucketCount + 1);
    double previous = 0;
    for (const auto& b : buckets) {
        EXPECT_GE(b.value, previous);
        previous = b.value;
    }
    EXPECT_EQ(buckets.back().labels.at("le"), "+Inf");
    EXPECT_EQ(buckets.back().value, 1012);
    EXPECT_EQ(p.find("shardgate_query_duration_seconds_bucket", {{"le", "0.0025"}}).at(0).value,
              2);  // the 1 ms ones
    EXPECT_EQ(p.find("shardgate_query_duration_seconds_bucket", {{"le", "0.005"}}).at(0).value,
              1002);
    EXPECT_EQ(p.find("shardgate_query_duration_seconds_bucket", {{"le", "0.5"}}).at(0).value, 1002);
    EXPECT_EQ(p.find("shardgate_query_duration_seconds_bucket", {{"le", "1"}}).at(0).value, 1012);
}

TEST(Prometheus, PerFingerprintSeriesOnlyForTopK) {
    const QueryStats s = workload();
    const Parsed p = parse(render_prometheus(s, {}));
    const auto counts = p.find("shardgate_fingerprint_duration_seconds_count");
    ASSERT_EQ(counts.size(), 2u);  // top_k_metrics = 2 of 4 groups
    std::set<double> calls;
    for (const auto& c : counts) calls.insert(c.value);
    EXPECT_EQ(calls, (std::set<double>{1000, 10}));
    const auto info = p.find("shardgate_fingerprint_info");
    ASSERT_EQ(info.size(), 2u);
    bool quoted = false;
    for (const auto& i : info)
        quoted = quoted || i.labels.at("query") == "SELECT * FROM b WHERE note = $1";
    EXPECT_TRUE(quoted);
    const auto p99 = p.find("shardgate_fingerprint_duration_seconds", {{"quantile", "0.99"}});
    ASSERT_EQ(p99.size(), 2u);
    for (const auto& q : p99)
        EXPECT_TRUE(std::abs(q.value - 0.7) < 1e-9 || std::abs(q.value - 0.003) < 1e-9);
}

TEST(Prometheus, LabelValuesAreEscaped) {
    EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    QueryStats s(testing::config());
    auto e = event("SELECT 1");
    e.user = "we\"ird\\user\n";
    s.record(e);
    const Parsed p = parse(render_prometheus(s, {}));
    EXPECT_EQ(p.find("shardgate_queries_total").at(0).labels.at("user"), "we\"ird\\user\n");
}

}  // namespace
}  // namespace sg::stats
