// The bookkeeping of LISTEN/NOTIFY in transaction pooling, for one (database, server login):
// which client sessions listen on which channels, and what the dedicated listening server
// connection of each shard must LISTEN / UNLISTEN so that it listens on exactly the union of
// their channels. Pure: no I/O; proxy/notify/service.cpp carries its commands out.
//
// Invariants:
// - A channel is wanted while at least one subscriber listens on it; every shard's listener
//   is then told LISTEN for it, and UNLISTEN once the last subscriber is gone.
// - Commands go to a shard's connection in order and are answered in order: each gets a
//   sequence number, and an answer acknowledges every command up to its number. A channel is
//   confirmed on a shard once the command that LISTENed it there is acknowledged; a client's
//   LISTEN is answered only when its channel is confirmed on every shard, so a NOTIFY sent
//   after the client saw "LISTEN" reaches it wherever it runs.
// - A lost connection forgets everything its server listened on; after reconnecting, every
//   wanted channel is LISTENed afresh (notifications sent in between are lost).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sg::proxy::notify {

using SubscriberId = uint64_t;

class NotifyHub {
public:
    explicit NotifyHub(int shards);

    int shards() const { return static_cast<int>(shards_.size()); }

    // Subscription changes. listen() returns true when the channel is new to this subscriber.
    bool listen(SubscriberId sub, const std::string& channel);
    void unlisten(SubscriberId sub, const std::string& channel);
    void unlisten_all(SubscriberId sub);

    // The subscribers of `channel` (null when it has none).
    const std::set<SubscriberId>* subscribers(const std::string& channel) const;
    // The channels `sub` listens on (null when none).
    const std::set<std::string>* channels_of(SubscriberId sub) const;
    size_t channel_count() const { return by_channel_.size(); }
    bool empty() const { return by_channel_.empty(); }

    // The next command to send to `shard`'s listener, which brings what its server listens on
    // in line with the wanted channels (several statements in one simple query), and its
    // sequence number; nullopt when nothing is to be sent or the shard is not connected.
    // The command counts as sent from here on.
    struct Command {
        std::string sql;
        uint64_t seq = 0;
    };
    std::optional<Command> next_command(int shard);
    // The command numbered `seq` on `shard` was answered (successfully: a failed command must
    // be followed by disconnected(), as the server's state is unknown then).
    void acknowledged(int shard, uint64_t seq);
    // The shard's listener connection logged in / was lost.
    void connected(int shard);
    void disconnected(int shard);
    bool is_connected(int shard) const { return shards_[shard].connected; }

    // Whether the server of `shard` is known to listen on `channel` (its LISTEN acknowledged).
    bool confirmed(int shard, const std::string& channel) const;
    bool confirmed_everywhere(const std::string& channel) const;

    // Every shard's server listens on nothing and is told nothing more (no subscribers left
    // and all commands acknowledged): its connection may be closed.
    bool settled(int shard) const;

private:
    struct ShardState {
        bool connected = false;
        // Channels the server listens on once every sent command is done, and for each the
        // number of the command that LISTENed it.
        std::map<std::string, uint64_t> listening;
        uint64_t sent = 0;
        uint64_t acked = 0;
    };
    std::map<std::string, std::set<SubscriberId>> by_channel_;
    std::map<SubscriberId, std::set<std::string>> by_subscriber_;
    std::vector<ShardState> shards_;
};

// A channel name as an SQL identifier (always double-quoted, quotes doubled).
std::string quote_channel(const std::string& channel);

}  // namespace sg::proxy::notify
