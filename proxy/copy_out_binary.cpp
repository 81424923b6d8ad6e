#include "proxy/copy_out_binary.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/sqlstate.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/copy.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace {

constexpr char kSignature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
constexpr size_t kFixedHeader = 11 + 4 + 4;  // signature, flags, header-extension length

// The payloads of a run of CopyData frames, in order (views into `frames`).
bool payloads(std::string_view frames, std::vector<std::string_view>& out) {
    wire::FrameCursor cursor(frames);
    while (auto f = cursor.next()) {
        if (f->type != wire::be::kCopyData) return false;
        out.push_back(f->body);
    }
    return cursor.at_end();
}

// The first `n` bytes of the stream `parts` joined (fewer when it is shorter).
std::string prefix(const std::vector<std::string_view>& parts, size_t n) {
    std::string s;
    for (auto p : parts) {
        if (s.size() >= n) break;
        s.append(p.substr(0, n - s.size()));
    }
    return s;
}

}  // namespace

bool copy_out_is_binary(std::string_view frame) {
    // 'H', int32 length, int8 overall format (0 text, 1 binary), ...
    return frame.size() >= 6 && frame[0] == 'H' && frame[5] == 1;
}

router::Expected<std::string> join_binary_copy_out(const std::vector<std::string_view>& per_shard) {
    std::string out;
    wire::MessageWriter w(out);
    for (size_t shard = 0; shard < per_shard.size(); ++shard) {
        std::vector<std::string_view> parts;
        if (!payloads(per_shard[shard], parts))
            return router::Error{
                sqlstate::kProtocolViolation,
                fmt::format("shard {}'s COPY data is not a sequence of CopyData messages", shard)};
        size_t total = 0;
        for (auto p : parts) total += p.size();
        // Every shard's stream starts with a header and ends with the trailer.
        const std::string head = prefix(parts, kFixedHeader);
        if (head.size() < kFixedHeader ||
            std::memcmp(head.data(), kSignature, sizeof kSignature) != 0)
            return router::Error{
                sqlstate::kProtocolViolation,
                fmt::format("shard {}'s binary COPY data has no valid header", shard)};
        const size_t header = kFixedHeader + wire::load_be32(head.data() + 15);
        if (total < header + 2)
            return router::Error{
                sqlstate::kProtocolViolation,
                fmt::format("shard {}'s binary COPY data ends before its trailer", shard)};
        std::string last2;  // the stream's last two bytes, from its last parts backwards
        for (auto it = parts.rbegin(); it != parts.rend() && last2.size() < 2; ++it) {
            const size_t take = std::min(it->size(), 2 - last2.size());
            last2.insert(0, it->substr(it->size() - take));
        }
        if (last2 != std::string_view("\xff\xff", 2))
            return router::Error{
                sqlstate::kProtocolViolation,
                fmt::format("shard {}'s binary COPY data does not end with the trailer", shard)};
        // Keep [keep_from, keep_to) of this shard's stream: the first shard keeps its header,
        // the last keeps its trailer.
        const size_t keep_from = shard == 0 ? 0 : header;
        const size_t keep_to = shard + 1 == per_shard.size() ? total : total - 2;
        size_t at = 0;  // stream offset of the current part's first byte
        for (auto p : parts) {
            const size_t from = std::max(at, keep_from), to = std::min(at + p.size(), keep_to);
            if (from < to) {
                wire::encode(wire::CopyData{wire::as_bytes(p.substr(from - at, to - from))}, w);
            }
            at += p.size();
        }
    }
    return out;
}

}  // namespace sg::proxy
