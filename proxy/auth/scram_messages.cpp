#include "proxy/auth/scram_messages.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "proxy/auth/base64.h"

namespace sg::auth {

namespace {

constexpr std::size_t kRawNonceLength = 18;  // SCRAM_RAW_NONCE_LEN

// Reads "<name>=<value>" up to the next ',' (consumed) or the end of `input`.
bool read_attribute(std::string_view& input, char name, std::string_view& value) {
    if (input.size() < 2 || input[0] != name || input[1] != '=') return false;
    const std::size_t comma = input.find(',');
    value = input.substr(2, comma == std::string_view::npos ? std::string_view::npos : comma - 2);
    input = comma == std::string_view::npos ? std::string_view{} : input.substr(comma + 1);
    return true;
}

bool decode_digest(std::string_view b64, Sha256Digest& out) {
    const auto bytes = base64_decode(b64);
    if (!bytes || bytes->size() != out.size()) return false;
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return true;
}

}  // namespace

bool is_valid_nonce(std::string_view nonce) {
    return !nonce.empty() && std::all_of(nonce.begin(), nonce.end(),
                                         [](char c) { return c >= 0x21 && c <= 0x7e && c != ','; });
}

std::optional<std::string> make_nonce() {
    std::array<std::uint8_t, kRawNonceLength> raw{};
    if (!random_bytes(raw)) return std::nullopt;
    return base64_encode(raw);
}

wire::Status parse_client_first(std::string_view text, ClientFirstMessage& out) {
    using wire::Status;
    if (text.size() < 3) return sg::unexpected("malformed SCRAM message: client-first too short");
    out.cbind_flag = text[0];
    if (out.cbind_flag == 'p') {
        return sg::unexpected(
            "malformed SCRAM message: client selected SCRAM-SHA-256 without channel binding, "
            "but the message includes channel binding data");
    }
    if (out.cbind_flag != 'n' && out.cbind_flag != 'y') {
        return sg::unexpected("malformed SCRAM message: unexpected channel-binding flag");
    }
    if (text[1] != ',') return sg::unexpected("malformed SCRAM message: comma expected");
    if (text[2] == 'a') {
        return sg::unexpected("client uses authorization identity, but it is not supported");
    }
    if (text[2] != ',') return sg::unexpected("malformed SCRAM message: comma expected");
    out.gs2_header = text.substr(0, 3);
    out.bare = text.substr(3);
    std::string_view rest = out.bare;
    if (rest.starts_with("m=")) {
        return sg::unexpected("client requires an unsupported SCRAM extension");
    }
    if (!read_attribute(rest, 'n', out.user) || !read_attribute(rest, 'r', out.nonce)) {
        return sg::unexpected("malformed SCRAM message: expected n= and r= attributes");
    }
    if (!is_valid_nonce(out.nonce)) return sg::unexpected("malformed SCRAM message: invalid nonce");
    // Any further attributes are extensions, which RFC 5802 says to ignore here.
    return {};
}

wire::Status parse_server_first(std::string_view text, ServerFirstMessage& out) {
    using wire::Status;
    std::string_view salt, iterations;
    if (!read_attribute(text, 'r', out.nonce) || !read_attribute(text, 's', salt) ||
        !read_attribute(text, 'i', iterations)) {
        return sg::unexpected("malformed SCRAM message: expected r=, s= and i= attributes");
    }
    if (!is_valid_nonce(out.nonce)) return sg::unexpected("malformed SCRAM message: invalid nonce");
    auto salt_bytes = base64_decode(salt);
    if (!salt_bytes || salt_bytes->empty()) {
        return sg::unexpected("malformed SCRAM message: invalid salt");
    }
    out.salt = std::move(*salt_bytes);
    const char* end = iterations.data() + iterations.size();
    const auto [ptr, ec] = std::from_chars(iterations.data(), end, out.iterations);
    if (ec != std::errc{} || ptr != end || out.iterations < 1) {
        return sg::unexpected("malformed SCRAM message: invalid iteration count");
    }
    return {};
}

std::string make_server_first(std::string_view nonce, std::string_view salt_b64, int iterations) {
    std::string out = "r=";
    out += nonce;
    out += ",s=";
    out += salt_b64;
    out += ",i=";
    out += std::to_string(iterations);
    return out;
}

wire::Status parse_client_final(std::string_view text, ClientFinalMessage& out) {
    using wire::Status;
    // The proof is always the last attribute; AuthMessage covers everything before it.
    const std::size_t proof_at = text.rfind(",p=");
    if (proof_at == std::string_view::npos) {
        return sg::unexpected("malformed SCRAM message: proof missing");
    }
    out.without_proof = text.substr(0, proof_at);
    if (!decode_digest(text.substr(proof_at + 3), out.proof)) {
        return sg::unexpected("malformed SCRAM message: invalid proof");
    }
    std::string_view rest = out.without_proof;
    if (!read_attribute(rest, 'c', out.channel_binding) || !read_attribute(rest, 'r', out.nonce)) {
        return sg::unexpected("malformed SCRAM message: expected c= and r= attributes");
    }
    return {};
}

wire::Status parse_server_final(std::string_view text, ServerFinalMessage& out) {
    using wire::Status;
    std::string_view value;
    out.signature.reset();
    out.error = {};
    if (read_attribute(text, 'e', value)) {
        out.error = value;
        return {};
    }
    Sha256Digest signature{};
    if (!read_attribute(text, 'v', value) || !decode_digest(value, signature)) {
        return sg::unexpected("malformed SCRAM message: invalid server signature");
    }
    out.signature = signature;
    return {};
}

}  // namespace sg::auth
