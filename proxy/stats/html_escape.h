// Text placed in the HTML reports (offline and live): the five characters HTML gives meaning
// to, escaped, so query texts and messages can never become markup.
#pragma once

#include <string>
#include <string_view>

namespace sg::stats::report {

inline std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace sg::stats::report
