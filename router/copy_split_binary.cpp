#include "router/copy_split_binary.h"
#include "common/sqlstate.h"

#include <cstring>
#include <optional>

namespace sg::router {

namespace {

constexpr char kSignature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
constexpr size_t kFixedHeader = 11 + 4 + 4;

uint32_t be32(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return (uint32_t(u[0]) << 24) | (uint32_t(u[1]) << 16) | (uint32_t(u[2]) << 8) | uint32_t(u[3]);
}

int16_t be16(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return static_cast<int16_t>((uint16_t(u[0]) << 8) | uint16_t(u[1]));
}

}  // namespace

Status BinaryCopySplitter::fail(std::string message) {
    failed_ = true;
    return Error{sqlstate::kBadCopyFileFormat, std::move(message)};
}

Status BinaryCopySplitter::feed(std::string_view chunk, std::vector<CopyRow>& out) {
    if (failed_) return Error{sqlstate::kBadCopyFileFormat, "COPY data already rejected"};
    if (ended_) return Ok{};
    buf_.append(chunk);
    size_t pos = 0;  // bytes of buf_ already cut into rows
    while (!ended_) {
        const size_t left = buf_.size() - pos;
        const char* p = buf_.data() + pos;
        if (!header_done_) {
            if (left < kFixedHeader) break;
            if (std::memcmp(p, kSignature, sizeof kSignature) != 0)
                return fail("COPY file signature not recognized");
            const uint64_t header = kFixedHeader + uint64_t(be32(p + 15));
            if (left < header) break;
            out.push_back(CopyRow{std::string(p, header), std::nullopt, true});
            pos += header;
            header_done_ = true;
            continue;
        }
        if (left < 2) break;
        const int16_t fields = be16(p);
        if (fields == -1) {  // the trailer
            out.push_back(CopyRow{std::string(p, 2), std::nullopt, true});
            pos += 2;
            ended_ = true;
            break;
        }
        if (fields < 0)
            return fail("row field count is " + std::to_string(fields) +
                        ", expected a count or -1");
        if (fields <= key_column_)
            return fail("COPY row " + std::to_string(rows_ + 1) + " has " + std::to_string(fields) +
                        " column(s); the shard key is column " + std::to_string(key_column_ + 1));
        // Walk the fields; stop (and wait for more data) when one is not all here yet.
        size_t at = 2;
        bool complete = true;
        std::optional<std::string> key;
        for (int f = 0; f < fields; ++f) {
            if (left - at < 4) {
                complete = false;
                break;
            }
            const int32_t len = static_cast<int32_t>(be32(p + at));
            at += 4;
            if (len < -1) return fail("invalid field size " + std::to_string(len));
            if (len == -1) continue;  // NULL
            if (left - at < size_t(len)) {
                complete = false;
                break;
            }
            if (f == key_column_) key.emplace(p + at, size_t(len));
            at += size_t(len);
        }
        if (!complete) break;
        ++rows_;
        CopyRow row{std::string(p, at), std::move(key), false};
        row.key_binary = true;
        out.push_back(std::move(row));
        pos += at;
    }
    buf_.erase(0, pos);
    return Ok{};
}

Status BinaryCopySplitter::finish(std::vector<CopyRow>& out) {
    (void)out;
    if (failed_) return Error{sqlstate::kBadCopyFileFormat, "COPY data already rejected"};
    if (!header_done_) return fail("COPY file signature not recognized");
    if (!ended_ && !buf_.empty()) return fail("unexpected EOF in COPY data");
    return Ok{};
}

}  // namespace sg::router
