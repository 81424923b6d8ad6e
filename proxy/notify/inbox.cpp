#include "proxy/notify/inbox.h"

#include <spdlog/spdlog.h>

namespace sg::proxy::notify {

bool NotificationQueue::push(std::string_view frame) {
    if (frames_.size() >= cap_) return false;
    frames_.emplace_back(frame);
    return true;
}

std::string NotificationQueue::take_all() {
    std::string out;
    for (const auto& f : frames_) out += f;
    frames_.clear();
    return out;
}

Inbox::Inbox(NotifyService& service, std::string key, SubscriberId id, std::string client,
             std::function<void()> wake)
    : service_(service),
      key_(std::move(key)),
      id_(id),
      client_(std::move(client)),
      wake_(std::move(wake)) {}

Inbox::~Inbox() {
    service_.unlisten_all(key_, id_);
}

void Inbox::deliver_notification(std::string_view frame) {
    // A channel LISTENed in the client's open transaction, before its COMMIT: not yet.
    if (!txn_.accepts(notification_channel(frame))) return;
    if (!queue_.push(frame)) {
        ++service_.counters().dropped;
        if (!dropping_)
            spdlog::warn(
                "client {}: {} notifications are waiting to be read; further ones are dropped "
                "until it "
                "reads them",
                client_, kMaxQueued);
        dropping_ = true;
        return;
    }
    dropping_ = false;
    wake_();
}

}  // namespace sg::proxy::notify

namespace sg::proxy::notify {

void Inbox::ended(bool committed) {
    if (!txn_.pending()) return;
    for (const auto& ch : txn_.end(committed)) service_.unlisten(key_, id_, ch);
    queue_.remove_if([&](std::string_view f) { return !txn_.accepts(notification_channel(f)); });
}

}  // namespace sg::proxy::notify
