#include "proxy/wire/messages/command_complete.h"

#include <array>
#include <charconv>

#include "proxy/wire/reader.h"

namespace sg::wire {

namespace {

constexpr std::array<std::string_view, 8> kRowCountCommands = {
    "INSERT", "UPDATE", "DELETE", "SELECT", "MERGE", "MOVE", "FETCH", "COPY"};

bool is_row_count_command(std::string_view command) {
    for (std::string_view c : kRowCountCommands) {
        if (c == command) return true;
    }
    return false;
}

std::optional<std::uint64_t> parse_count(std::string_view digits) {
    std::uint64_t value = 0;
    const char* end = digits.data() + digits.size();
    const auto [ptr, ec] = std::from_chars(digits.data(), end, value);
    if (digits.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
    return value;
}

// Writes "<command> " (plus the legacy "0 " oid for INSERT) and the count, via `emit`.
template <typename Emit>
void build_tag(std::string_view command, std::uint64_t rows, Emit&& emit) {
    std::array<char, 24> digits{};
    const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), rows);
    emit(command);
    emit(command == "INSERT" ? std::string_view(" 0 ") : std::string_view(" "));
    emit(std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data())));
}

}  // namespace

Status decode(Bytes body, CommandComplete& out) {
    BodyReader r(body);
    r.cstr(out.tag);
    return r.finish();
}

void encode(const CommandComplete& msg, MessageWriter& w) {
    w.begin(CommandComplete::kType);
    w.cstr(msg.tag);
    w.end();
}

std::optional<RowCountTag> parse_row_count_tag(std::string_view tag) {
    const std::size_t space = tag.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    const std::string_view command = tag.substr(0, space);
    if (!is_row_count_command(command)) return std::nullopt;
    std::string_view rest = tag.substr(space + 1);
    if (command == "INSERT") {
        const std::size_t oid_end = rest.find(' ');
        if (oid_end == std::string_view::npos || !parse_count(rest.substr(0, oid_end))) {
            return std::nullopt;
        }
        rest = rest.substr(oid_end + 1);
    }
    const auto rows = parse_count(rest);
    if (!rows) return std::nullopt;
    return RowCountTag{command, *rows};
}

void append_command_tag(std::string& out, std::string_view command, std::uint64_t rows) {
    build_tag(command, rows, [&out](std::string_view part) { out.append(part); });
}

void encode_command_complete(std::string_view command, std::uint64_t rows, MessageWriter& w) {
    w.begin(CommandComplete::kType);
    build_tag(command, rows, [&w](std::string_view part) { w.bytes(part); });
    w.u8(0);
    w.end();
}

}  // namespace sg::wire
