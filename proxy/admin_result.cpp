#include "proxy/admin_result.h"

#include <fmt/format.h>

#include <ctime>

#include "common/pg_types.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/writer.h"

namespace sg::proxy::admin {

void ResultSet::encode(std::string& out, const std::string& tag) const {
    wire::MessageWriter w(out);
    wire::RowDescription rd;
    rd.fields.reserve(columns_.size());
    for (const auto& c : columns_) {
        wire::FieldDescription f;
        f.name = c;
        f.type_oid = pg_type::kText;
        f.type_size = -1;  // varlena
        rd.fields.push_back(f);
    }
    wire::encode(rd, w);
    std::vector<wire::Value> values;
    for (const auto& r : rows_) {
        values.clear();
        for (const auto& v : r) values.emplace_back(wire::as_bytes(v));
        wire::encode_data_row(values, w);
    }
    const std::string shown = tag.empty() ? fmt::format("SHOW {}", rows_.size()) : tag;
    wire::encode(wire::CommandComplete{shown}, w);
}

void command_complete(std::string& out, std::string_view tag) {
    wire::MessageWriter w(out);
    wire::encode(wire::CommandComplete{tag}, w);
}

void error(std::string& out, std::string_view sqlstate, const std::string& msg) {
    wire::MessageWriter w(out);
    wire::ErrorBuilder(wire::Severity::Error, sqlstate, msg).encode_error(w);
}

int64_t ms_since(net::Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(net::Clock::now() - t).count();
}

std::string utc_time(std::chrono::system_clock::time_point t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

std::string seconds_since(net::Clock::time_point t) {
    return fmt::format("{:.1f}", std::chrono::duration<double>(net::Clock::now() - t).count());
}

}  // namespace sg::proxy::admin
