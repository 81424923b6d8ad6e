#include "router/copy_split.h"
#include "common/sqlstate.h"

namespace sg::router {
namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string decode_copy_text(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\' || i + 1 == raw.size()) {
            out += raw[i];
            continue;
        }
        char c = raw[++i];
        switch (c) {
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'v':
                out += '\v';
                break;
            case 'x': {
                int value = 0, digits = 0;
                while (digits < 2 && i + 1 < raw.size() && hex_digit(raw[i + 1]) >= 0) {
                    value = value * 16 + hex_digit(raw[++i]);
                    ++digits;
                }
                if (digits == 0) {
                    out += 'x';
                } else {
                    out += static_cast<char>(value);
                }
                break;
            }
            default:
                if (c >= '0' && c <= '7') {
                    int value = c - '0';
                    for (int d = 0;
                         d < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7';
                         ++d) {
                        value = value * 8 + (raw[++i] - '0');
                    }
                    out += static_cast<char>(value);
                } else {
                    out += c;  // \\ and any other escaped character stand for themselves
                }
        }
    }
    return out;
}

CopySplitter::CopySplitter(const CopyInfo& info) : info_(info) {}

void CopySplitter::start_field() {
    ++field_;
    just_closed_ = false;
}

void CopySplitter::consume_text(char c) {
    if (escaped_) {
        escaped_ = false;
        if (in_key_field()) key_raw_ += c;
        return;
    }
    if (c == '\\') {
        escaped_ = true;
        if (in_key_field()) key_raw_ += c;
    } else if (c == info_.delimiter) {
        start_field();
    } else if (c == '\n') {
        row_done_ = true;
    } else if (in_key_field()) {
        key_raw_ += c;
    }
}

void CopySplitter::consume_csv(char c) {
    const bool key = in_key_field();
    if (in_quotes_) {
        if (csv_escaped_) {
            csv_escaped_ = false;
            if (c != info_.quote && c != info_.escape && key) key_value_ += info_.escape;
            if (key) key_value_ += c;
        } else if (c == info_.escape && info_.escape != info_.quote) {
            csv_escaped_ = true;
        } else if (c == info_.quote) {
            in_quotes_ = false;
            just_closed_ = true;
        } else if (key) {
            key_value_ += c;
        }
        if (key) key_raw_ += c;
        return;
    }
    const bool reopened = just_closed_;
    just_closed_ = false;
    if (c == info_.quote) {
        // "" inside a quoted field is one quote character (when ESCAPE is QUOTE).
        if (reopened && info_.escape == info_.quote && key) key_value_ += c;
        in_quotes_ = true;
        if (key) {
            key_quoted_ = true;
            key_raw_ += c;
        }
    } else if (c == info_.delimiter) {
        start_field();
    } else if (c == '\n') {
        row_done_ = true;
    } else if (key) {
        key_raw_ += c;
        key_value_ += c;
    }
}

Status CopySplitter::end_row(std::vector<CopyRow>& out) {
    std::string_view line = row_;
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == "\\.") {
        ended_ = true;
        row_.clear();
        return Ok{};
    }
    ++rows_;
    CopyRow row;
    row.header = info_.header && rows_ == 1;
    if (!row.header) {
        if (field_ < info_.key_column) {
            failed_ = true;
            return Error{sqlstate::kBadCopyFileFormat, "COPY row " + std::to_string(rows_) +
                                                           " has " + std::to_string(field_ + 1) +
                                                           " column(s); the shard key is column " +
                                                           std::to_string(info_.key_column + 1)};
        }
        // A \r before \n belongs to the line ending, not to a last-column key.
        if (field_ == info_.key_column && !key_raw_.empty() && key_raw_.back() == '\r' &&
            !in_quotes_) {
            key_raw_.pop_back();
            if (!key_value_.empty() && key_value_.back() == '\r') key_value_.pop_back();
        }
        if (info_.format == CopyInfo::Format::Csv) {
            if (key_quoted_ || key_raw_ != info_.null_string) row.key = std::move(key_value_);
        } else if (key_raw_ != info_.null_string) {
            row.key = decode_copy_text(key_raw_);
        }
    }
    row.data = std::move(row_);
    out.push_back(std::move(row));
    row_.clear();
    field_ = 0;
    key_raw_.clear();
    key_value_.clear();
    key_quoted_ = escaped_ = in_quotes_ = just_closed_ = csv_escaped_ = row_done_ = false;
    return Ok{};
}

Status CopySplitter::feed(std::string_view chunk, std::vector<CopyRow>& out) {
    if (failed_) return Error{sqlstate::kBadCopyFileFormat, "COPY data already rejected"};
    for (char c : chunk) {
        if (ended_) return Ok{};
        row_ += c;
        if (info_.format == CopyInfo::Format::Csv) {
            consume_csv(c);
        } else {
            consume_text(c);
        }
        if (row_done_) {
            if (auto st = end_row(out); !st) return st;
        }
    }
    return Ok{};
}

Status CopySplitter::finish(std::vector<CopyRow>& out) {
    if (failed_) return Error{sqlstate::kBadCopyFileFormat, "COPY data already rejected"};
    if (ended_ || row_.empty()) return Ok{};
    if (in_quotes_) {
        failed_ = true;
        return Error{sqlstate::kBadCopyFileFormat, "unterminated CSV quoted field"};
    }
    return end_row(out);
}

}  // namespace sg::router
