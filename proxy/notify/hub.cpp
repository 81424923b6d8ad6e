#include "proxy/notify/hub.h"

namespace sg::proxy::notify {

NotifyHub::NotifyHub(int shards) : shards_(static_cast<size_t>(shards)) {}

bool NotifyHub::listen(SubscriberId sub, const std::string& channel) {
    by_channel_[channel].insert(sub);
    return by_subscriber_[sub].insert(channel).second;
}

void NotifyHub::unlisten(SubscriberId sub, const std::string& channel) {
    if (auto it = by_subscriber_.find(sub); it != by_subscriber_.end()) {
        it->second.erase(channel);
        if (it->second.empty()) by_subscriber_.erase(it);
    }
    if (auto it = by_channel_.find(channel); it != by_channel_.end()) {
        it->second.erase(sub);
        if (it->second.empty()) by_channel_.erase(it);
    }
}

void NotifyHub::unlisten_all(SubscriberId sub) {
    auto it = by_subscriber_.find(sub);
    if (it == by_subscriber_.end()) return;
    const std::set<std::string> channels = std::move(it->second);
    by_subscriber_.erase(it);
    for (const auto& ch : channels) {
        auto c = by_channel_.find(ch);
        if (c == by_channel_.end()) continue;
        c->second.erase(sub);
        if (c->second.empty()) by_channel_.erase(c);
    }
}

const std::set<SubscriberId>* NotifyHub::subscribers(const std::string& channel) const {
    auto it = by_channel_.find(channel);
    return it == by_channel_.end() ? nullptr : &it->second;
}

const std::set<std::string>* NotifyHub::channels_of(SubscriberId sub) const {
    auto it = by_subscriber_.find(sub);
    return it == by_subscriber_.end() ? nullptr : &it->second;
}

std::optional<NotifyHub::Command> NotifyHub::next_command(int shard) {
    ShardState& s = shards_[shard];
    if (!s.connected) return std::nullopt;
    std::string sql;
    const uint64_t seq = s.sent + 1;
    // UNLISTEN first: both walks are over sorted maps, so the command is deterministic.
    for (auto it = s.listening.begin(); it != s.listening.end();) {
        if (by_channel_.count(it->first)) {
            ++it;
            continue;
        }
        sql += "UNLISTEN " + quote_channel(it->first) + ";";
        it = s.listening.erase(it);
    }
    for (const auto& [channel, subs] : by_channel_) {
        if (s.listening.count(channel)) continue;
        sql += "LISTEN " + quote_channel(channel) + ";";
        s.listening.emplace(channel, seq);
    }
    if (sql.empty()) return std::nullopt;
    s.sent = seq;
    return Command{std::move(sql), seq};
}

void NotifyHub::acknowledged(int shard, uint64_t seq) {
    ShardState& s = shards_[shard];
    if (seq > s.acked && seq <= s.sent) s.acked = seq;
}

void NotifyHub::connected(int shard) {
    ShardState& s = shards_[shard];
    s.connected = true;
    s.listening.clear();  // a new server session listens on nothing
    s.acked = s.sent;     // nothing is owed on the new connection
}

void NotifyHub::disconnected(int shard) {
    ShardState& s = shards_[shard];
    s.connected = false;
    s.listening.clear();
    s.acked = s.sent;
}

bool NotifyHub::confirmed(int shard, const std::string& channel) const {
    const ShardState& s = shards_[shard];
    if (!s.connected) return false;
    auto it = s.listening.find(channel);
    return it != s.listening.end() && it->second <= s.acked;
}

bool NotifyHub::confirmed_everywhere(const std::string& channel) const {
    for (int i = 0; i < shards(); ++i)
        if (!confirmed(i, channel)) return false;
    return true;
}

bool NotifyHub::settled(int shard) const {
    const ShardState& s = shards_[shard];
    return by_channel_.empty() && s.listening.empty() && s.acked == s.sent;
}

std::string quote_channel(const std::string& channel) {
    std::string out = "\"";
    for (char c : channel) {
        out += c;
        if (c == '"') out += '"';
    }
    out += '"';
    return out;
}

}  // namespace sg::proxy::notify
