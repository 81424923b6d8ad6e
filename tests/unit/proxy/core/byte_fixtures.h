// Byte fixtures for the session core's tests: PostgreSQL messages written out by hand (type
// byte, big-endian length, body), so the tests read what travels on the wire, not what our own
// encoders produce.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sg::proxy::core::fixtures {

inline std::string be32(uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

// One message: type, length (counting itself), body.
inline std::string msg(char type, std::string_view body = {}) {
    return std::string(1, type) + be32(uint32_t(body.size() + 4)) + std::string(body);
}

inline std::string cstr(std::string_view s) {
    return std::string(s) + '\0';
}

// Frontend messages, as libpq / pgjdbc send them.
inline std::string query(std::string_view sql) {
    return msg('Q', cstr(sql));
}
inline std::string parse(std::string_view name, std::string_view sql) {
    return msg('P', cstr(name) + cstr(sql) + std::string("\0\0", 2));  // no parameter types
}
inline std::string bind(std::string_view portal, std::string_view stmt) {
    // no parameter formats, no parameters, no result formats
    return msg('B', cstr(portal) + cstr(stmt) + std::string(6, '\0'));
}
inline std::string describe_portal(std::string_view portal = "") {
    return msg('D', "P" + cstr(portal));
}
inline std::string execute(std::string_view portal = "") {
    return msg('E', cstr(portal) + std::string(4, '\0'));
}
inline std::string close_statement(std::string_view name) {
    return msg('C', "S" + cstr(name));
}
inline std::string sync() {
    return msg('S');
}
inline std::string flush() {
    return msg('H');
}
inline std::string terminate() {
    return msg('X');
}
inline std::string copy_data(std::string_view row) {
    return msg('d', row);
}
inline std::string copy_done() {
    return msg('c');
}

// Backend replies.
inline std::string parse_complete() {
    return msg('1');
}
inline std::string bind_complete() {
    return msg('2');
}
inline std::string close_complete() {
    return msg('3');
}
inline std::string no_data() {
    return msg('n');
}
inline std::string row_description_one_int() {
    // one column "n": table 0, attnum 0, int4 (23), size 4, typmod -1, text format
    return msg('T', std::string("\0\1", 2) + cstr("n") + std::string(4, '\0') +
                        std::string("\0\0", 2) + be32(23) + std::string("\0\4", 2) +
                        be32(0xffffffff) + std::string("\0\0", 2));
}
inline std::string data_row(std::string_view v) {
    return msg('D', std::string("\0\1", 2) + be32(uint32_t(v.size())) + std::string(v));
}
inline std::string command_complete(std::string_view tag) {
    return msg('C', cstr(tag));
}
inline std::string error(std::string_view sqlstate, std::string_view message) {
    return msg('E', "SERROR" + std::string(1, '\0') + "C" + cstr(sqlstate) + "M" + cstr(message) +
                        std::string(1, '\0'));
}
inline std::string ready(char status) {
    return msg('Z', std::string(1, status));
}

inline std::string concat(std::initializer_list<std::string> parts) {
    std::string out;
    for (const auto& p : parts) out += p;
    return out;
}

}  // namespace sg::proxy::core::fixtures
