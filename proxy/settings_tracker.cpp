#include "proxy/settings_tracker.h"

#include "proxy/datestyle.h"
#include "proxy/session_settings.h"

#include "proxy/sql_words.h"

#include <strings.h>

#include <cctype>

namespace sg::proxy {

TransactionControl parse_transaction_control(std::string_view sql) {
    sql_words::Cursor c{sql};
    TransactionControl tc;
    auto ends_here = [&] { return c.rest().empty(); };
    auto optional_words = [&](std::initializer_list<std::string_view> words) {
        for (auto w : words)
            if (c.keyword(w)) return;
    };
    if (c.keyword("savepoint")) {
        tc.savepoint = c.ident();
        if (!tc.savepoint.empty() && ends_here()) tc.kind = TransactionControl::Savepoint;
        return tc;
    }
    if (c.keyword("release")) {
        c.keyword("savepoint");
        tc.savepoint = c.ident();
        if (!tc.savepoint.empty() && ends_here()) tc.kind = TransactionControl::Release;
        return tc;
    }
    if (c.keyword("commit") || c.keyword("end")) {
        optional_words({"work", "transaction"});
        // COMMIT AND CHAIN commits too (a new transaction follows at once).
        if (c.keyword("and")) {
            c.keyword("no");
            if (!c.keyword("chain")) return tc;
        }
        if (ends_here()) tc.kind = TransactionControl::Commit;
        return tc;
    }
    if (c.keyword("prepare")) {
        // PREPARE TRANSACTION keeps the transaction's session-level settings in the session, as
        // COMMIT does (PostgreSQL's PrepareTransaction ends the GUC nesting level as committed).
        if (c.keyword("transaction")) tc.kind = TransactionControl::Commit;
        return tc;
    }
    if (c.keyword("rollback") || c.keyword("abort")) {
        optional_words({"work", "transaction"});
        if (c.keyword("to")) {
            c.keyword("savepoint");
            tc.savepoint = c.ident();
            if (!tc.savepoint.empty() && ends_here()) tc.kind = TransactionControl::RollbackTo;
            return tc;
        }
        if (c.keyword("and")) {
            c.keyword("no");
            if (!c.keyword("chain")) return tc;
        }
        if (ends_here()) tc.kind = TransactionControl::Rollback;
        return tc;
    }
    return tc;
}

void SettingsTracker::add_startup(const std::string& name, const std::string& statement) {
    startup_[name] = statement;
    current_[name] = statement;
    committed_[name] = statement;
}

std::optional<SettingsTracker::Step> SettingsTracker::step_of(std::string_view sql) {
    // Most statements are neither: ruled out by their first word, without allocating.
    size_t i = 0;
    while (i < sql.size() && (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '('))
        ++i;
    std::string_view head = sql.substr(i);
    bool candidate = head.starts_with("/*") || head.starts_with("--");
    for (std::string_view kw : {"set", "reset", "discard", "commit", "end", "abort", "prepare",
                                "rollback", "release", "savepoint"})
        candidate = candidate || (head.size() >= kw.size() &&
                                  strncasecmp(head.data(), kw.data(), kw.size()) == 0);
    if (!candidate) return std::nullopt;
    Step step;
    if (auto ch = parse_setting_statement(sql); ch && !ch->proxy_local)
        step.change = std::move(*ch);
    else
        step.control = parse_transaction_control(sql);
    if (!step.change && step.control.kind == TransactionControl::None) return std::nullopt;
    return step;
}

namespace {
// Where the statement beginning at `i` has its first word: after blanks, '(' and comments;
// npos when nothing follows.
size_t first_word(std::string_view sql, size_t i) {
    for (;;) {
        while (i < sql.size() &&
               (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '('))
            ++i;
        if (sql.substr(i).starts_with("--")) {
            i = sql.find('\n', i);
        } else if (sql.substr(i).starts_with("/*")) {
            i = sql.find("*/", i + 2);
            if (i != std::string_view::npos) i += 2;
        } else {
            return i < sql.size() ? i : std::string_view::npos;
        }
        if (i == std::string_view::npos) return i;
    }
}

// A text with a ';' that may hold a SET / RESET / DISCARD: one of whose statements (the first,
// or one after a ';') starts with one of those words (after blanks, comments and
// parentheses). A ';' inside a literal only adds a candidate: a false positive costs a reset
// of the server connection before its next use (a round trip), a false negative would lose a
// setting, and every real statement start follows a real ';'. A trailing ';' (pgbench's
// `UPDATE ... SET ...;`) starts nothing: such a text is one statement.
bool may_hold_untracked_setting(std::string_view sql) {
    if (sql.find(';') == std::string_view::npos) return false;  // one statement: step_of judged it
    for (size_t start = 0;;) {                                  // 0, then just after each ';'
        if (size_t i = first_word(sql, start); i != std::string_view::npos) {
            for (std::string_view kw : {"set", "reset", "discard"}) {
                const size_t end = i + kw.size();
                if (end <= sql.size() && strncasecmp(sql.data() + i, kw.data(), kw.size()) == 0 &&
                    (end == sql.size() ||
                     !(std::isalnum(static_cast<unsigned char>(sql[end])) || sql[end] == '_')))
                    return true;
            }
        }
        const size_t semi = sql.find(';', start);
        if (semi == std::string_view::npos) return false;
        start = semi + 1;
    }
}
}  // namespace

void SettingsTracker::sent(std::string_view sql, int ahead, bool in_transaction) {
    std::optional<Step> step = step_of(sql);
    const bool untracked = !step && may_hold_untracked_setting(sql);
    // Only requests that change something are remembered; the rest are counted by `at`.
    if (!step && !untracked && in_transaction == open_) return;
    Pending p;
    p.at = readies_ + static_cast<uint64_t>(ahead < 0 ? 0 : ahead);
    p.in_transaction = in_transaction;
    p.untracked = untracked;
    if (step) p.steps.push_back(std::move(*step));
    pending_.push_back(std::move(p));
}

void SettingsTracker::sent_batch(const std::vector<std::string_view>& texts, int ahead,
                                 bool in_transaction, bool observed) {
    Pending p;
    p.observed = observed;
    for (std::string_view t : texts)
        if (auto step = step_of(t)) p.steps.push_back(std::move(*step));
    if (p.steps.empty() && in_transaction == open_ && !observed) return;
    p.at = readies_ + static_cast<uint64_t>(ahead < 0 ? 0 : ahead);
    p.in_transaction = in_transaction;
    pending_.push_back(std::move(p));
}

void SettingsTracker::apply(const SettingChange& ch, Settings& applied) {
    switch (ch.kind) {
        case SettingChange::Set: {
            std::string statement = ch.statement;
            if (ch.name == "datestyle") {
                // A partial DateStyle keeps the session's other part; the server ran it over
                // whatever it had (maybe another client's order): the client's session holds
                // the complete value, which differs from the server's record, so it is synced
                // before the client's next statement.
                auto prev = current_.find(ch.name);
                std::string_view before =
                    prev != current_.end() ? datestyle_of_statement(prev->second) : "";
                if (auto full = complete_datestyle(before, ch.value))
                    statement = "SET datestyle TO " + quote_sql_literal(*full);
            }
            current_[ch.name] = statement;
            applied[ch.name] = ch.statement;
            break;
        }
        case SettingChange::Reset:
            // RESET returns a setting to the session's startup value, which on a pooled server
            // is the client's startup parameter: the server itself fell back to its own default,
            // so the startup value is re-applied before the client's next statement.
            if (auto it = startup_.find(ch.name); it != startup_.end())
                current_[ch.name] = it->second;
            else
                current_.erase(ch.name);
            applied.erase(ch.name);
            break;
        case SettingChange::ResetAll:
            current_ = startup_;
            applied.clear();
            break;
    }
}

void SettingsTracker::roll_back(Settings& applied) {
    // The server is back where the transaction began, where it carried committed_ (settings
    // are synced in their own transactions, before any BEGIN).
    current_ = committed_;
    applied = committed_;
    savepoints_.clear();
}

void SettingsTracker::ready(char status, bool failed, Settings& applied) {
    const uint64_t number = readies_++;
    while (!pending_.empty() && pending_.front().at < number)
        pending_.pop_front();  // (never answered)
    std::optional<Pending> mine;
    if (!pending_.empty() && pending_.front().at == number) {
        mine = std::move(pending_.front());
        pending_.pop_front();
    }
    const bool was_open = open_ || (mine && mine->in_transaction);
    // A query of several statements outside a transaction block: one implicit transaction.
    if (mine && mine->observed && !was_open && observer_ && status == 'I')
        observer_->ended(!failed);
    bool ended = false;       // a COMMIT or ROLLBACK among the steps settled the transaction
    bool ends_tried = false;  // there was one, but the request failed
    if (mine) {
        for (const Step& step : mine->steps) {
            const auto& tc = step.control;
            if (tc.kind == TransactionControl::Commit || tc.kind == TransactionControl::Rollback)
                ends_tried = true;
            if (failed) continue;  // nothing of a failed request took
            if (step.change) apply(*step.change, applied);
            auto find = [&]() -> long {
                for (size_t i = savepoints_.size(); i-- > 0;)
                    if (savepoints_[i].first == tc.savepoint) return static_cast<long>(i);
                return -1;
            };
            switch (tc.kind) {
                case TransactionControl::Savepoint:
                    savepoints_.emplace_back(tc.savepoint, current_);
                    break;
                case TransactionControl::RollbackTo:
                    if (long i = find(); i >= 0) {
                        // The server undid every SET since: it carries what it had then.
                        current_ = savepoints_[size_t(i)].second;
                        applied = current_;
                        savepoints_.resize(size_t(i) + 1);
                        if (observer_) observer_->rolled_back_to(savepoints_.size());
                    }
                    break;
                case TransactionControl::Release:
                    if (long i = find(); i >= 0) {
                        savepoints_.resize(size_t(i));
                        if (observer_) observer_->released(savepoints_.size());
                    }
                    break;
                case TransactionControl::Commit:
                    // COMMIT of a failed transaction rolls it back (its tag is ROLLBACK).
                    if (aborted_)
                        roll_back(applied);
                    else
                        committed_ = current_;  // also COMMIT AND CHAIN, which stays open
                    savepoints_.clear();
                    if (observer_) observer_->ended(!aborted_);
                    ended = true;
                    break;
                case TransactionControl::Rollback:
                    roll_back(applied);
                    if (observer_) observer_->ended(false);
                    ended = true;
                    break;
                case TransactionControl::None:
                    break;
            }
        }
    }
    if (mine && mine->untracked) untracked_ = true;
    if (status == 'I' && untracked_) {
        untracked_ = false;
        if (!applied.count(kUnknownSettings)) {
            applied.clear();
            applied[kUnknownSettings] = std::string();
        }
    }
    if (status == 'I') {
        if (!was_open) {
            committed_ = current_;  // a statement in its own (implicit) transaction
        } else if (ended) {
            // settled above
        } else if (failed && ends_tried) {
            roll_back(applied);  // a COMMIT that failed (a deferred constraint) rolled back
            if (observer_) observer_->ended(false);
        } else if (current_ != committed_) {
            // The transaction ended in a way not seen here (a multi-statement text). Best
            // guess for the client; the server is reset before its next use, so what it
            // carries is known again.
            if (!failed && !aborted_)
                committed_ = current_;
            else
                current_ = committed_;
            applied.clear();
            applied[kUnknownSettings] = std::string();
        }
        // A transaction that ended unseen (see above): committed unless something failed.
        if (observer_ && was_open && !ended && !(failed && ends_tried))
            observer_->ended(!failed && !aborted_);
        savepoints_.clear();
    }
    open_ = status != 'I';
    aborted_ = status == 'E';
}

void SettingsTracker::lost() {
    if (observer_) observer_->ended(false);  // the transaction died with the connection
    pending_.clear();
    savepoints_.clear();
    current_ = committed_;
    open_ = aborted_ = false;
}

void SettingsTracker::drop(const std::string& name) {
    auto st = startup_.find(name);
    auto cur = current_.find(name);
    if (st != startup_.end() && cur != current_.end() && cur->second != st->second) {
        current_[name] = st->second;  // back to the client's startup value
        committed_[name] = st->second;
        return;
    }
    startup_.erase(name);
    current_.erase(name);
    committed_.erase(name);
}

}  // namespace sg::proxy
