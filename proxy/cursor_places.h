// Where each cursor of a transaction lives (protocol logic, no I/O).
//
// A transaction spanning shards has a server connection on each participant shard. A cursor
// (SQL DECLARE, or a named portal of the extended protocol: the two share PostgreSQL's one
// namespace of portals) exists only on the shard that ran its DECLARE or Bind, so its FETCH,
// MOVE, CLOSE, and a later Execute/Describe/Close of the portal must go there, not to
// whichever participant the transaction used last. Cursors without HOLD end with their
// transaction, and so does this map (the session clears it when no transaction is open).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sg::proxy {

// The cursor a statement declares: `DECLARE name ... CURSOR ... FOR ...` -> name (folded as
// PostgreSQL folds identifiers); nullopt for any other statement.
std::optional<std::string> declared_cursor(std::string_view sql);

// The cursor a statement uses: FETCH/MOVE [direction] [FROM|IN] name, CLOSE name -> name;
// nullopt for CLOSE ALL and any other statement.
std::optional<std::string> used_cursor(std::string_view sql);

class CursorPlaces {
public:
    void note(std::string name, int shard) { places_[std::move(name)] = shard; }
    std::optional<int> find(std::string_view name) const {
        auto it = places_.find(name);
        if (it == places_.end()) return std::nullopt;
        return it->second;
    }
    void clear() { places_.clear(); }
    bool empty() const { return places_.empty(); }

private:
    std::map<std::string, int, std::less<>> places_;
};

}  // namespace sg::proxy
