#include "rebalance/journal.h"

#include "common/files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

namespace sg::rebalance {
namespace {

using nlohmann::json;
using router::Error;

Error journal_error(const std::string& where, const std::string& problem) {
    return Error{sqlstate::kConfigFileError, where + ": " + problem};
}

constexpr const char* kPhaseNames[] = {"planned", "copied", "caught-up", "switched", "cleaned"};
constexpr const char* kReferenceNames[] = {"none", "planned", "copied", "done"};

json move_to_json(const MoveState& m) {
    json out = {{"source", m.source},
                {"target", m.target},
                {"buckets", m.buckets},
                {"switched", m.switched},
                {"phase", to_string(m.phase)}};
    if (m.reference != ReferenceCopy::None) out["reference"] = to_string(m.reference);
    return out;
}

}  // namespace

const char* to_string(Phase p) {
    return kPhaseNames[static_cast<int>(p)];
}

std::optional<Phase> parse_phase(std::string_view s) {
    for (int i = 0; i < 5; ++i)
        if (s == kPhaseNames[i]) return static_cast<Phase>(i);
    return std::nullopt;
}

const char* to_string(ReferenceCopy r) {
    return kReferenceNames[static_cast<int>(r)];
}

std::optional<ReferenceCopy> parse_reference_copy(std::string_view s) {
    for (int i = 0; i < 4; ++i)
        if (s == kReferenceNames[i]) return static_cast<ReferenceCopy>(i);
    return std::nullopt;
}

std::vector<std::string> Journal::source_order() const {
    std::vector<std::string> out;
    for (const auto& m : moves)
        if (std::find(out.begin(), out.end(), m.source) == out.end()) out.push_back(m.source);
    return out;
}

std::string Journal::staging_table(const std::string& table, const std::string& source) const {
    // One staging table per (table, source) on the target: cleaning one source's move never
    // touches rows another source is still streaming in.
    std::string base =
        table.substr(table.rfind('.') == std::string::npos ? 0 : table.rfind('.') + 1);
    return "shardgate_staging_" + base + "_" + source;
}

std::string journal_path(const std::string& state_dir) {
    return (std::filesystem::path(state_dir) / "rebalance.journal.json").string();
}

std::string journal_to_json(const Journal& j) {
    json moves = json::array();
    for (const auto& m : j.moves) moves.push_back(move_to_json(m));
    json sources = json::object();
    for (const auto& [name, s] : j.sources)
        sources[name] = {{"slot", s.slot}, {"publication", s.publication}};
    json out = {{"format", 1},
                {"run_id", j.run_id},
                {"start_version", j.start_version},
                {"start_hash", j.start_hash},
                {"system_ids", j.system_ids},
                {"bucket_bits", j.bucket_bits},
                {"moves", moves},
                {"sources", sources},
                {"pause_ms", j.pause_ms},
                {"finished", j.finished}};
    if (j.pending) {
        const auto& p = *j.pending;
        out["pending"] = {
            {"source", p.source}, {"target", p.target}, {"buckets", p.buckets}, {"gid", p.gid}};
    }
    return out.dump(1) + "\n";
}

router::Expected<Journal> journal_from_json(std::string_view text, const std::string& source) {
    json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return journal_error(source, "not a JSON object; move it aside and run `rebalance status`");
    if (j.value("format", 0) != 1) return journal_error(source, "unknown journal format");
    try {
        Journal out;
        out.run_id = j.at("run_id").get<std::string>();
        out.start_version = j.at("start_version").get<uint64_t>();
        out.start_hash = j.value("start_hash", std::string());
        out.system_ids = j.value("system_ids", std::map<std::string, std::string>{});
        out.bucket_bits = j.at("bucket_bits").get<int>();
        for (const auto& m : j.at("moves")) {
            MoveState ms;
            ms.source = m.at("source").get<std::string>();
            ms.target = m.at("target").get<std::string>();
            ms.buckets = m.at("buckets").get<std::vector<uint32_t>>();
            ms.switched = m.at("switched").get<std::vector<uint32_t>>();
            auto phase = parse_phase(m.at("phase").get<std::string>());
            if (!phase) return journal_error(source, "moves: unknown phase");
            ms.phase = *phase;
            auto reference = parse_reference_copy(m.value("reference", "none"));
            if (!reference) return journal_error(source, "moves: unknown reference state");
            ms.reference = *reference;
            out.moves.push_back(std::move(ms));
        }
        for (const auto& [name, s] : j.at("sources").items())
            out.sources[name] = {s.at("slot").get<std::string>(),
                                 s.at("publication").get<std::string>()};
        if (j.contains("pending")) {
            const auto& p = j["pending"];
            out.pending = PendingSwitch{
                p.at("source").get<std::string>(), p.at("target").get<std::string>(),
                p.at("buckets").get<std::vector<uint32_t>>(), p.at("gid").get<std::string>()};
        }
        out.pause_ms = j.value("pause_ms", std::vector<double>{});
        out.finished = j.value("finished", false);
        return out;
    } catch (const json::exception& e) {
        return journal_error(source, std::string("malformed: ") + e.what());
    }
}

router::Expected<std::optional<Journal>> load_journal(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::optional<Journal>{};
    std::ifstream in(path, std::ios::binary);
    if (!in) return journal_error(path, std::string("cannot open: ") + std::strerror(errno));
    std::stringstream buf;
    buf << in.rdbuf();
    auto j = journal_from_json(buf.str(), path);
    if (!j) return j.error();
    return std::optional<Journal>{std::move(*j)};
}

router::Status save_journal(const Journal& j, const std::string& path) {
    if (auto p = replace_file_atomically(path, journal_to_json(j)))
        return journal_error(p->path, p->problem);
    return router::Ok{};
}

std::string new_run_id() {
    std::random_device rd;
    std::uniform_int_distribution<uint32_t> d;
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", d(rd));
    return buf;
}

}  // namespace sg::rebalance
