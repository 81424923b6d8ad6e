// The extended query protocol, frontend side: Parse, Bind, Describe, Execute, Close, Sync,
// Flush. Names and values are views into the frame they were decoded from.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "proxy/wire/messages/empty.h"
#include "proxy/wire/protocol.h"

namespace sg::wire {

// Format codes of parameters and result columns.
enum class FormatCode : std::int16_t { Text = 0, Binary = 1 };

struct Parse {
    static constexpr char kType = fe::kParse;
    std::string_view statement;  // "" is the unnamed statement
    std::string_view query;
    std::vector<std::uint32_t> param_types;  // 0 leaves a parameter's type to the server
};

Status decode(Bytes body, Parse& out);
void encode(const Parse& msg, MessageWriter& w);

struct Bind {
    static constexpr char kType = fe::kBind;
    std::string_view portal;     // "" is the unnamed portal
    std::string_view statement;  // "" is the unnamed statement
    std::vector<std::int16_t> param_formats;
    std::vector<Value> params;
    std::vector<std::int16_t> result_formats;

    // The format of parameter `i` under the protocol's rule: no codes means all text, one code
    // applies to every parameter, otherwise one code per parameter (decode guarantees one of
    // these shapes).
    FormatCode param_format(std::size_t i) const;
};

// Decoding checks the layout and that the number of parameter formats is 0, 1 or the number
// of parameters; it reuses the vectors' capacity, so decoding into the same Bind repeatedly
// does not allocate once warmed up.
Status decode(Bytes body, Bind& out);
void encode(const Bind& msg, MessageWriter& w);

// What Describe and Close refer to.
enum class Target : char { Statement = 'S', Portal = 'P' };

struct Describe {
    static constexpr char kType = fe::kDescribe;
    Target target = Target::Statement;
    std::string_view name;
};

Status decode(Bytes body, Describe& out);
void encode(const Describe& msg, MessageWriter& w);

struct Close {
    static constexpr char kType = fe::kClose;
    Target target = Target::Statement;
    std::string_view name;
};

Status decode(Bytes body, Close& out);
void encode(const Close& msg, MessageWriter& w);

struct Execute {
    static constexpr char kType = fe::kExecute;
    std::string_view portal;
    std::int32_t max_rows = 0;  // 0 = no limit; otherwise PortalSuspended after that many rows
};

Status decode(Bytes body, Execute& out);
void encode(const Execute& msg, MessageWriter& w);

using Sync = EmptyMessage<fe::kSync>;
using Flush = EmptyMessage<fe::kFlush>;

}  // namespace sg::wire
