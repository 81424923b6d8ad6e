#include "rebalance/pgoutput.h"

#include <cstdio>

namespace sg::rebalance {
namespace {

using router::Error;

Error malformed(const char* what) {
    return Error{sqlstate::kProtocolViolation,
                 std::string("malformed replication message: ") + what};
}

// A bounds-checked big-endian reader; after any failure every read fails.
class Reader {
public:
    explicit Reader(std::string_view d) : d_(d) {}
    bool ok() const { return ok_; }
    bool at_end() const { return d_.empty(); }

    uint64_t uint(int bytes) {
        if (!ok_ || d_.size() < static_cast<size_t>(bytes)) return fail();
        uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(d_[i]);
        d_.remove_prefix(bytes);
        return v;
    }
    std::string cstr() {
        auto nul = d_.find('\0');
        if (!ok_ || nul == std::string_view::npos) return fail(), std::string();
        std::string s(d_.substr(0, nul));
        d_.remove_prefix(nul + 1);
        return s;
    }
    std::string bytes(size_t n) {
        if (!ok_ || d_.size() < n) return fail(), std::string();
        std::string s(d_.substr(0, n));
        d_.remove_prefix(n);
        return s;
    }
    std::string_view rest() {
        auto r = d_;
        d_ = {};
        return r;
    }

private:
    uint64_t fail() {
        ok_ = false;
        return 0;
    }
    std::string_view d_;
    bool ok_ = true;
};

bool read_tuple(Reader& r, Tuple& out) {
    uint64_t n = r.uint(2);
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
        char kind = static_cast<char>(r.uint(1));
        TupleColumn col;
        if (kind == 'n') {
            col.kind = TupleColumn::Kind::Null;
        } else if (kind == 'u') {
            col.kind = TupleColumn::Kind::Unchanged;
        } else if (kind == 't') {
            col.kind = TupleColumn::Kind::Text;
            col.value = r.bytes(r.uint(4));
        } else {
            return false;  // 'b' (binary) is never sent at proto_version 1
        }
        out.push_back(std::move(col));
    }
    return r.ok();
}

}  // namespace

router::Expected<PgOutputMsg> decode_pgoutput(std::string_view payload) {
    Reader r(payload);
    PgOutputMsg m;
    char tag = static_cast<char>(r.uint(1));
    switch (tag) {
        case 'B':
            m.type = PgOutputMsg::Type::Begin;
            r.uint(8), r.uint(8), r.uint(4);  // final LSN, commit time, xid
            break;
        case 'C':
            m.type = PgOutputMsg::Type::Commit;
            r.uint(1), r.uint(8);  // flags, commit LSN
            m.lsn = r.uint(8);     // end LSN: where a restart resumes after this transaction
            r.uint(8);
            break;
        case 'R': {
            m.type = PgOutputMsg::Type::Relation;
            m.relation.relid = static_cast<uint32_t>(r.uint(4));
            m.relation.nspname = r.cstr();
            m.relation.relname = r.cstr();
            r.uint(1);  // replica identity setting
            uint64_t n = r.uint(2);
            for (uint64_t i = 0; i < n && r.ok(); ++i) {
                m.relation.key.push_back(r.uint(1) & 1);
                m.relation.columns.push_back(r.cstr());
                r.uint(4), r.uint(4);  // type oid, typmod
            }
            break;
        }
        case 'I':
        case 'U':
        case 'D': {
            m.type = PgOutputMsg::Type::Change;
            auto& c = m.change;
            c.kind = tag == 'I'   ? ChangeMsg::Kind::Insert
                     : tag == 'U' ? ChangeMsg::Kind::Update
                                  : ChangeMsg::Kind::Delete;
            c.relid = static_cast<uint32_t>(r.uint(4));
            char sub = static_cast<char>(r.uint(1));
            if (sub == 'K' || sub == 'O') {
                if (tag == 'I') return malformed("Insert with an old tuple");
                c.old_tuple.emplace();
                c.old_is_key_only = sub == 'K';
                if (!read_tuple(r, *c.old_tuple)) return malformed("old tuple");
                if (tag == 'U') sub = static_cast<char>(r.uint(1));
            }
            if (tag != 'D') {
                if (sub != 'N') return malformed("expected a new tuple ('N')");
                if (!read_tuple(r, c.new_tuple)) return malformed("new tuple");
            } else if (!c.old_tuple) {
                return malformed("Delete without a key");
            }
            break;
        }
        case 'M':
            m.type = PgOutputMsg::Type::Message;
            r.uint(1);  // flags: transactional
            m.lsn = r.uint(8);
            m.prefix = r.cstr();
            m.content = r.bytes(r.uint(4));
            break;
        case 'T': {
            m.type = PgOutputMsg::Type::Truncate;
            uint64_t n = r.uint(4);
            r.uint(1);  // options
            for (uint64_t i = 0; i < n && r.ok(); ++i)
                m.truncated.push_back(static_cast<uint32_t>(r.uint(4)));
            break;
        }
        case 'O':  // Origin
        case 'Y':  // Type
            m.type = PgOutputMsg::Type::Ignored;
            r.rest();
            break;
        default:
            return malformed("unknown pgoutput message type");
    }
    if (!r.ok()) return malformed("truncated message");
    return m;
}

router::Expected<StreamFrame> decode_frame(std::string_view data) {
    Reader r(data);
    StreamFrame f;
    char tag = static_cast<char>(r.uint(1));
    if (tag == 'w') {
        f.type = StreamFrame::Type::XLogData;
        f.wal_start = r.uint(8);
        f.wal_end = r.uint(8);
        r.uint(8);  // send time
        f.payload = r.rest();
    } else if (tag == 'k') {
        f.type = StreamFrame::Type::Keepalive;
        f.wal_end = r.uint(8);
        r.uint(8);
        f.reply_requested = r.uint(1) != 0;
    } else {
        return malformed("unknown replication frame");
    }
    if (!r.ok()) return malformed("truncated replication frame");
    return f;
}

std::string encode_int(uint64_t v, int bytes) {
    std::string out(bytes, '\0');
    for (int i = bytes - 1; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
    return out;
}

std::string encode_status_update(uint64_t flushed, int64_t now_us_since_2000) {
    return "r" + encode_int(flushed, 8) + encode_int(flushed, 8) + encode_int(flushed, 8) +
           encode_int(static_cast<uint64_t>(now_us_since_2000), 8) + encode_int(0, 1);
}

std::string format_lsn(uint64_t lsn) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                  static_cast<unsigned>(lsn & 0xffffffffu));
    return buf;
}

std::optional<uint64_t> parse_lsn(std::string_view text) {
    unsigned hi = 0, lo = 0;
    std::string s(text);
    if (std::sscanf(s.c_str(), "%X/%X", &hi, &lo) != 2) return std::nullopt;
    return (uint64_t{hi} << 32) | lo;
}

}  // namespace sg::rebalance
