#include "proxy/cluster/pause_order.h"

#include <nlohmann/json.hpp>

namespace sg::cluster {

using json = nlohmann::json;

namespace {

template <class T>
bool get_to(const json& j, const char* name, T& out) {
    auto it = j.find(name);
    if (it == j.end()) return true;  // optional: keeps the default
    if constexpr (std::is_same_v<T, std::string>) {
        if (!it->is_string()) return false;
        out = it->get<std::string>();
    } else {
        if (!it->is_number_integer()) return false;
        if constexpr (std::is_unsigned_v<T>) {
            if (it->get<int64_t>() < 0) return false;
        }
        out = it->get<T>();
    }
    return true;
}

}  // namespace

std::string encode_pause_order(const PauseOrder& o) {
    return json{{"id", o.id},
                {"buckets", o.buckets},
                {"version", o.version},
                {"lease_ms", o.lease_ms},
                {"drain_ms", o.drain_ms},
                {"owner", o.owner},
                {"renewal", o.renewal}}
        .dump();
}

EtcdResult<PauseOrder> parse_pause_order(const std::string& value) {
    auto j = json::parse(value, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return EtcdError{"pause order is not a JSON object: " + value};
    PauseOrder o;
    if (!get_to(j, "id", o.id) || !get_to(j, "buckets", o.buckets) ||
        !get_to(j, "version", o.version) || !get_to(j, "lease_ms", o.lease_ms) ||
        !get_to(j, "drain_ms", o.drain_ms) || !get_to(j, "owner", o.owner) ||
        !get_to(j, "renewal", o.renewal))
        return EtcdError{"pause order has a field of the wrong type: " + value};
    if (o.id.empty() || o.buckets.empty())
        return EtcdError{"pause order without id or buckets: " + value};
    if (o.lease_ms <= 0 || o.drain_ms < 0)
        return EtcdError{"pause order with a bad lease_ms or drain_ms: " + value};
    return o;
}

EtcdResult<Registration> parse_registration(const std::string& value) {
    auto j = json::parse(value, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return EtcdError{"registration is not a JSON object: " + value};
    Registration r;
    if (!j.contains("address") || !get_to(j, "address", r.address) || r.address.empty())
        return EtcdError{"registration without an address: " + value};
    if (!get_to(j, "lease_ttl_s", r.lease_ttl_s) || !get_to(j, "map_version", r.map_version) ||
        !get_to(j, "paused_buckets", r.paused_buckets))
        return EtcdError{"registration has a field of the wrong type: " + value};
    if (auto it = j.find("pause"); it != j.end() && !it->is_null()) {
        PauseAck a;
        if (!it->is_object() || !get_to(*it, "id", a.id) || !get_to(*it, "state", a.state) ||
            a.id.empty())
            return EtcdError{"registration has an unreadable pause acknowledgement: " + value};
        r.pause = std::move(a);
    }
    return r;
}

}  // namespace sg::cluster
