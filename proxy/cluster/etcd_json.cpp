#include "proxy/cluster/etcd_json.h"

#include <nlohmann/json.hpp>

#include "proxy/auth/base64.h"

namespace sg::cluster {

namespace {

using json = nlohmann::json;

std::string b64(std::string_view s) {
    return auth::base64_encode(wire::as_bytes(s));
}

EtcdError bad(std::string_view what) {
    return EtcdError{"etcd: malformed response: " + std::string(what)};
}

// Parses without throwing; nullopt when the text is not JSON or not an object.
std::optional<json> parse_object(std::string_view body) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
}

// The gateway writes int64 as a decimal string; a number is accepted too; absent means 0.
bool get_int(const json& obj, const char* name, int64_t& out) {
    out = 0;
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return true;
    if (it->is_number_integer()) {
        out = it->get<int64_t>();
        return true;
    }
    if (!it->is_string()) return false;
    const std::string& s = it->get_ref<const std::string&>();
    if (s.empty()) return false;
    try {
        std::size_t used = 0;
        out = std::stoll(s, &used);
        return used == s.size();
    } catch (const std::exception&) {
        return false;
    }
}

bool get_b64(const json& obj, const char* name, std::string& out) {
    out.clear();
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    auto bytes = auth::base64_decode(it->get_ref<const std::string&>());
    if (!bytes) return false;
    out.assign(bytes->begin(), bytes->end());
    return true;
}

bool get_bool(const json& obj, const char* name) {
    auto it = obj.find(name);
    return it != obj.end() && it->is_boolean() && it->get<bool>();
}

std::optional<KeyValue> decode_kv(const json& j) {
    if (!j.is_object()) return std::nullopt;
    KeyValue kv;
    if (!get_b64(j, "key", kv.key) || !get_b64(j, "value", kv.value) ||
        !get_int(j, "create_revision", kv.create_revision) ||
        !get_int(j, "mod_revision", kv.mod_revision) || !get_int(j, "version", kv.version) ||
        !get_int(j, "lease", kv.lease))
        return std::nullopt;
    return kv;
}

bool header_revision(const json& j, int64_t& rev) {
    rev = 0;
    auto it = j.find("header");
    if (it == j.end()) return true;
    return it->is_object() && get_int(*it, "revision", rev);
}

// Parses `body`, turning a gateway error into an error value.
EtcdResult<json> parse_reply(std::string_view body) {
    if (auto e = decode_error(body)) return EtcdError{"etcd: " + *e};
    auto j = parse_object(body);
    if (!j) return bad("not a JSON object");
    return std::move(*j);
}

bool decode_kvs(const json& arr, std::vector<KeyValue>& out) {
    if (arr.is_null()) return true;
    if (!arr.is_array()) return false;
    for (const auto& e : arr) {
        auto kv = decode_kv(e);
        if (!kv) return false;
        out.push_back(std::move(*kv));
    }
    return true;
}

}  // namespace

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto& c = reinterpret_cast<unsigned char&>(end.back());
        if (c < 0xff) {
            ++c;
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');  // every key: etcd's "\0" range end
}

std::string encode_range(std::string_view key, bool prefix) {
    json j{{"key", b64(key)}};
    if (prefix) j["range_end"] = b64(prefix_end(key));
    return j.dump();
}

std::string encode_put(std::string_view key, std::string_view value, int64_t lease) {
    json j{{"key", b64(key)}, {"value", b64(value)}};
    if (lease != 0) j["lease"] = std::to_string(lease);
    return j.dump();
}

std::string encode_cas(std::string_view key, std::string_view value, int64_t expected_mod_revision,
                       int64_t lease) {
    json put{{"key", b64(key)}, {"value", b64(value)}};
    if (lease != 0) put["lease"] = std::to_string(lease);
    json j{
        {"compare", json::array({json{{"key", b64(key)},
                                      {"target", "MOD"},
                                      {"result", "EQUAL"},
                                      {"mod_revision", std::to_string(expected_mod_revision)}}})},
        {"success", json::array({json{{"request_put", put}}})},
        {"failure", json::array({json{{"request_range", json{{"key", b64(key)}}}}})}};
    return j.dump();
}

std::string encode_cas_guarded(std::string_view key, std::string_view value,
                               int64_t expected_mod_revision, std::string_view guard_key,
                               int64_t guard_lease, std::string_view stable_prefix,
                               int64_t stable_since, const KeyRevisions& unchanged) {
    json j = json::parse(encode_cas(key, value, expected_mod_revision));
    j["compare"].push_back(json{{"key", b64(guard_key)},
                                {"target", "LEASE"},
                                {"result", "EQUAL"},
                                {"lease", std::to_string(guard_lease)}});
    // A range compare holds for every key in [prefix, prefix_end); with no key it compares
    // an absent key's create_revision 0, which holds too.
    if (!stable_prefix.empty())
        j["compare"].push_back(json{{"key", b64(stable_prefix)},
                                    {"range_end", b64(prefix_end(stable_prefix))},
                                    {"target", "CREATE"},
                                    {"result", "LESS"},
                                    {"create_revision", std::to_string(stable_since + 1)}});
    for (const auto& [k, rev] : unchanged)
        j["compare"].push_back(json{{"key", b64(k)},
                                    {"target", "MOD"},
                                    {"result", "EQUAL"},
                                    {"mod_revision", std::to_string(rev)}});
    return j.dump();
}

std::string encode_delete_if_lease(std::string_view key, int64_t lease) {
    json j{{"compare", json::array({json{{"key", b64(key)},
                                         {"target", "LEASE"},
                                         {"result", "EQUAL"},
                                         {"lease", std::to_string(lease)}}})},
           {"success", json::array({json{{"request_delete_range", json{{"key", b64(key)}}}}})}};
    return j.dump();
}

std::string encode_lease_grant(int64_t ttl_s) {
    return json{{"TTL", std::to_string(ttl_s)}, {"ID", "0"}}.dump();
}

std::string encode_lease_id(int64_t id) {
    return json{{"ID", std::to_string(id)}}.dump();
}

std::string encode_watch_create(std::string_view key, int64_t start_revision, bool prefix) {
    json c{{"key", b64(key)}};
    if (prefix) c["range_end"] = b64(prefix_end(key));
    if (start_revision > 0) c["start_revision"] = std::to_string(start_revision);
    return json{{"create_request", c}}.dump();
}

std::optional<std::string> decode_error(std::string_view body) {
    auto j = parse_object(body);
    if (!j) return std::nullopt;
    auto it = j->find("error");
    if (it == j->end()) return std::nullopt;
    // Unary errors: {"error": "text", "code": N, "message": "text"}; streamed ones nest an
    // object {"grpc_code": N, "http_code": N, "message": "text", ...} under "error".
    const json& e = *it;
    std::string msg;
    if (e.is_string())
        msg = e.get<std::string>();
    else if (e.is_object() && e.contains("message") && e["message"].is_string())
        msg = e["message"].get<std::string>();
    else
        msg = e.dump();
    if (auto m = j->find("message"); msg.empty() && m != j->end() && m->is_string())
        msg = m->get<std::string>();
    return msg.empty() ? std::string("unknown error") : msg;
}

EtcdResult<RangeResult> decode_range(std::string_view body) {
    auto j = parse_reply(body);
    if (!j) return j.error();
    RangeResult r;
    if (!header_revision(*j, r.revision)) return bad("range header");
    if (!decode_kvs(j->value("kvs", json()), r.kvs)) return bad("range kvs");
    return r;
}

EtcdResult<int64_t> decode_put(std::string_view body) {
    auto j = parse_reply(body);
    if (!j) return j.error();
    int64_t rev = 0;
    if (!header_revision(*j, rev) || rev <= 0) return bad("put header");
    return rev;
}

EtcdResult<TxnResult> decode_txn(std::string_view body) {
    auto j = parse_reply(body);
    if (!j) return j.error();
    TxnResult r;
    if (!header_revision(*j, r.revision)) return bad("txn header");
    r.succeeded = get_bool(*j, "succeeded");
    if (r.succeeded) return r;
    // The failure branch's range: responses[0].response_range.kvs.
    auto resp = j->find("responses");
    if (resp == j->end() || !resp->is_array()) return r;  // a failure branch without reads
    for (const auto& one : *resp) {
        if (!one.is_object() || !one.contains("response_range")) continue;
        std::vector<KeyValue> kvs;
        if (!decode_kvs(one["response_range"].value("kvs", json()), kvs))
            return bad("txn range kvs");
        if (!kvs.empty()) r.current = std::move(kvs.front());
    }
    return r;
}

EtcdResult<LeaseGrant> decode_lease_grant(std::string_view body) {
    auto j = parse_reply(body);
    if (!j) return j.error();
    LeaseGrant g;
    if (!get_int(*j, "ID", g.id) || !get_int(*j, "TTL", g.ttl_s)) return bad("lease grant");
    if (auto e = j->find("error");
        e != j->end() && e->is_string() && !e->get<std::string>().empty())
        return EtcdError{"etcd: lease grant: " + e->get<std::string>()};
    if (g.id == 0 || g.ttl_s <= 0) return bad("lease grant without ID or TTL");
    return g;
}

EtcdResult<int64_t> decode_keepalive(std::string_view body) {
    auto j = parse_reply(body);
    if (!j) return j.error();
    auto res = j->find("result");
    if (res == j->end() || !res->is_object()) return bad("keepalive without result");
    int64_t ttl = 0;
    if (!get_int(*res, "TTL", ttl)) return bad("keepalive TTL");
    return ttl;
}

EtcdResult<WatchMessage> decode_watch(std::string_view body) {
    auto j = parse_reply(body);
    if (!j) return j.error();
    auto res = j->find("result");
    if (res == j->end() || !res->is_object()) return bad("watch message without result");
    WatchMessage m;
    if (!header_revision(*res, m.revision)) return bad("watch header");
    m.created = get_bool(*res, "created");
    m.canceled = get_bool(*res, "canceled");
    if (auto r = res->find("cancel_reason"); r != res->end() && r->is_string())
        m.cancel_reason = r->get<std::string>();
    if (!get_int(*res, "compact_revision", m.compact_revision))
        return bad("watch compact_revision");
    auto evs = res->find("events");
    if (evs != res->end() && !evs->is_null()) {
        if (!evs->is_array()) return bad("watch events");
        for (const auto& e : *evs) {
            if (!e.is_object()) return bad("watch event");
            WatchEvent ev;
            auto type = e.find("type");
            if (type != e.end() && type->is_string() && type->get<std::string>() == "DELETE")
                ev.type = WatchEvent::Type::Delete;
            else if (type != e.end() && type->is_number_integer() && type->get<int>() == 1)
                ev.type = WatchEvent::Type::Delete;
            auto kv = decode_kv(e.value("kv", json::object()));
            if (!kv) return bad("watch event kv");
            ev.kv = std::move(*kv);
            m.events.push_back(std::move(ev));
        }
    }
    return m;
}

std::vector<std::string> take_stream_messages(std::string& buffer) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(buffer.data() + start, nl - start);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (!line.empty()) out.emplace_back(line);
    }
    buffer.erase(0, start);
    return out;
}

}  // namespace sg::cluster
