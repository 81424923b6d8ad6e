#include "proxy/notify/listen_txn.h"

#include <algorithm>

namespace sg::proxy::notify {

bool ListenTransaction::needs_subscription(const std::string& channel) const {
    return !active_.count(channel) && !staged_.count(channel);
}

void ListenTransaction::add(const ListenStatement& st, size_t depth) {
    actions_.push_back({st, depth});
}

void ListenTransaction::rolled_back_to(size_t depth) {
    std::erase_if(actions_, [&](const Action& a) { return a.depth >= depth; });
}

void ListenTransaction::released(size_t depth) {
    for (auto& a : actions_) a.depth = std::min(a.depth, depth);
}

std::vector<std::string> ListenTransaction::end(bool committed) {
    Channels next = active_;
    if (committed) {
        for (const auto& a : actions_) {
            switch (a.st.kind) {
                case ListenStatement::Listen:
                    next.insert(a.st.channel);
                    break;
                case ListenStatement::Unlisten:
                    next.erase(a.st.channel);
                    break;
                case ListenStatement::UnlistenAll:
                    next.clear();
                    break;
            }
        }
    }
    std::vector<std::string> drop;
    for (const auto* set : {&active_, &staged_})
        for (const auto& ch : *set)
            if (!next.count(ch) && std::find(drop.begin(), drop.end(), ch) == drop.end())
                drop.push_back(ch);
    active_ = std::move(next);
    staged_.clear();
    actions_.clear();
    return drop;
}

bool ListenTransaction::accepts(std::string_view channel) const {
    if (active_.find(channel) != active_.end()) return true;
    return staged_.find(channel) != staged_.end();
}

std::string_view notification_channel(std::string_view frame) {
    // 'A', int32 length, int32 process id, channel\0, payload\0
    if (frame.size() < 10 || frame[0] != 'A') return {};
    std::string_view rest = frame.substr(9);
    const size_t end = rest.find('\0');
    if (end == std::string_view::npos) return {};
    return rest.substr(0, end);
}

}  // namespace sg::proxy::notify
