// The literal-free key of a DML text: the text with every constant replaced by a marker of its
// kind, so "... WHERE aid = 12345" and "... WHERE aid = 678" share one key. The shape cache
// looks texts up by it, so statements sent with literals (the simple protocol) are fingerprinted
// by libpg_query once per statement shape instead of once per distinct text.
//
// Invariant: two texts with the same key differ only in the values of constants the parser
// turns into A_Const nodes of the same type, which libpg_query's fingerprint ignores; so they
// have the same fingerprint. Only what can be shown to keep that holds gets a key:
//   - single DML statements (first keyword SELECT, INSERT, UPDATE, DELETE, MERGE, WITH or
//     VALUES; no second statement after a ';'): in utility statements literals are often
//     plain fields (FETCH 10, PREPARE TRANSACTION 'gid', DO $$...$$) that fingerprints keep;
//   - lexed as libpg_query lexes (standard_conforming_strings on): '...' with '' inside,
//     E'...' with backslash escapes, B'', X'', N'', U&'' strings and $tag$...$tag$ bodies;
//     numbers as integers that fit int32 ("i": an Integer constant) or others ("f": Float);
//     identifiers, quoted identifiers, $n parameters, operators and comments kept verbatim;
//   - a number right after '[' is kept (array bounds in a type, int[3], are not constants);
//   - anything the lexer is unsure about (an unterminated quote or comment, a number running
//     into letters such as 0x1F or 1e, control characters, escapes in E'' and U&'' strings,
//     which the parser may reject for one value and not another) gets no key: the caller
//     uses the exact text. A key is only worth caching for a text that parsed.
#pragma once

#include <string>
#include <string_view>

namespace sg::stats {

// Writes the key of `text` to `out` (cleared first) and returns true, or returns false when
// `text` gets no key. Allocates only when `out` must grow.
bool literal_key(std::string_view text, std::string& out);

}  // namespace sg::stats
