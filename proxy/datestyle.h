// DateStyle is two settings in one: the output style (ISO, SQL, Postgres, German) and the
// field order (YMD, DMY, MDY). `SET DateStyle = 'Postgres'` changes the style and keeps the
// session's order. On a pooled server connection the order left there is another client's, so
// replaying the client's partial value would give it that client's order; the tracker keeps
// the complete value the client's own session has instead (issue 16: the fuzzer's
// datestyle_partial class).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sg::proxy {

// The complete DateStyle ("Postgres, MDY") after setting `value` in a session whose DateStyle
// is `previous` (complete), as PostgreSQL's check_datestyle computes it: a part not given keeps
// the previous one, except that German without an order sets DMY. nullopt when `value` is not
// a list of DateStyle keywords (DEFAULT, a typo, conflicting parts): left to the server.
std::optional<std::string> complete_datestyle(std::string_view previous, std::string_view value);

// The value in a tracked `SET datestyle TO <value>` statement, or "" for another form.
std::string_view datestyle_of_statement(std::string_view statement);

}  // namespace sg::proxy
