#include "proxy/core/held_begin.h"

namespace sg::proxy::core {

const std::string& HeldBegin::text() const {
    static const std::string kNone;
    if (const auto* o = std::get_if<Open>(&state_)) return o->sql;
    if (const auto* f = std::get_if<Failed>(&state_)) return f->sql;
    return kNone;
}

void HeldBegin::begin(std::string_view sql) {
    if (!held()) state_ = Open{std::string(sql)};
}

void HeldBegin::prelude(std::string prelude_sql) {
    state_ = Open{std::move(prelude_sql)};
}

void HeldBegin::append(std::string_view sql) {
    auto* o = std::get_if<Open>(&state_);
    if (!o) return;
    o->sql += "\n;\n";  // the newlines end a trailing -- comment of either text
    o->sql += sql;
    o->sql += '\n';
}

void HeldBegin::fail() {
    if (auto* o = std::get_if<Open>(&state_)) state_ = Failed{std::move(o->sql)};
}

std::string HeldBegin::take() {
    std::string sql;
    if (auto* o = std::get_if<Open>(&state_)) sql = std::move(o->sql);
    if (auto* f = std::get_if<Failed>(&state_)) sql = std::move(f->sql);
    state_ = None{};
    return sql;
}

}  // namespace sg::proxy::core
