#include "proxy/wire/writer.h"

#include <cassert>

namespace sg::wire {

namespace {

void put_u32_at(std::string& out, std::size_t at, std::uint32_t v) {
    out[at] = static_cast<char>(v >> 24);
    out[at + 1] = static_cast<char>(v >> 16);
    out[at + 2] = static_cast<char>(v >> 8);
    out[at + 3] = static_cast<char>(v);
}

}  // namespace

void MessageWriter::begin(char type) {
    out_.push_back(type);
    begin_untyped();
}

void MessageWriter::begin_untyped() {
    assert(open_ == kNone && "messages do not nest");
    open_ = out_.size();
    out_.append(4, '\0');
}

void MessageWriter::end() {
    assert(open_ != kNone && "end() without begin()");
    put_u32_at(out_, open_, static_cast<std::uint32_t>(out_.size() - open_));
    open_ = kNone;
}

void MessageWriter::u16(std::uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    out_.append(b, 2);
}

void MessageWriter::u32(std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out_.append(b, 4);
}

void MessageWriter::cstr(std::string_view s) {
    assert(s.find('\0') == std::string_view::npos && "a wire string cannot contain NUL");
    out_.append(s);
    out_.push_back('\0');
}

}  // namespace sg::wire
