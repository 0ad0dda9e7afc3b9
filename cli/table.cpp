#include "table.h"

#include "output.h"

#include <algorithm>
#include <iostream>

namespace wfq::cli {

std::size_t visible_length(const std::string& s) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\x1b') {
            while (i < s.size() && s[i] != 'm') ++i;
            continue;
        }
        if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) ++n;
    }
    return n;
}

std::string fit_columns(const std::string& line, std::size_t cols) {
    if (visible_length(line) <= cols) return line;
    std::size_t bytes = 0;
    for (std::size_t seen = 0; bytes < line.size() && seen + 1 < cols; ++seen) {
        ++bytes;
        while (bytes < line.size() && (static_cast<unsigned char>(line[bytes]) & 0xc0) == 0x80) ++bytes;
    }
    return line.substr(0, bytes) + (cols ? "…" : "");
}

void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(headers.size());
    for (std::size_t c = 0; c < headers.size(); ++c) width[c] = headers[c].size();
    for (const auto& r : rows)
        for (std::size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], visible_length(r[c]));
    std::size_t limit = stdout_is_terminal() ? static_cast<std::size_t>(terminal_width()) : 0;
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            std::string cell = cells[c];
            // Flatten newlines so one row stays one line.
            for (auto& ch : cell)
                if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
            // On a terminal the last column (free text, never coloured) is cut to fit the width.
            if (limit && c + 1 == cells.size() && visible_length(out) + visible_length(cell) > limit) {
                std::size_t room = limit > visible_length(out) + 1 ? limit - visible_length(out) - 1 : 0;
                std::size_t bytes = 0, seen = 0;
                while (bytes < cell.size() && seen < room) {
                    ++bytes;
                    while (bytes < cell.size() && (static_cast<unsigned char>(cell[bytes]) & 0xc0) == 0x80) ++bytes;
                    ++seen;
                }
                cell = cell.substr(0, bytes) + "…";
            }
            out += cell;
            if (c + 1 < cells.size()) out += std::string(width[c] - visible_length(cell) + 2, ' ');
        }
        std::cout << out << "\n";
    };
    line(headers);
    for (const auto& r : rows) line(r);
}

namespace {

constexpr std::size_t kGap = 2;        // spaces between columns
constexpr std::size_t kMinText = 8;    // a text column is not cut below this (or its header)
const std::string kMore = "…";         // the last header when columns are not shown

}  // namespace

FittedTable fit_table(const std::vector<Column>& cols, std::vector<std::vector<std::string>> rows, int width) {
    for (auto& r : rows) {
        r.resize(cols.size());
        for (auto& cell : r)
            for (auto& ch : cell)
                if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';  // one row, one line
    }
    const std::size_t limit = width > 0 ? static_cast<std::size_t>(width) : 0;
    std::vector<bool> shown(cols.size(), true);
    bool short_headers = false;
    std::vector<std::size_t> w(cols.size());
    auto header = [&](std::size_t c) -> const std::string& {
        return short_headers && !cols[c].short_header.empty() ? cols[c].short_header : cols[c].header;
    };
    auto natural = [&] {
        for (std::size_t c = 0; c < cols.size(); ++c) {
            w[c] = visible_length(header(c));
            for (const auto& r : rows) w[c] = std::max(w[c], visible_length(r[c]));
        }
    };
    auto total = [&] {
        std::size_t sum = 0, n = 0;
        for (std::size_t c = 0; c < cols.size(); ++c)
            if (shown[c]) sum += w[c], ++n;
        bool more = std::find(shown.begin(), shown.end(), false) != shown.end();
        if (more) sum += visible_length(kMore), ++n;
        return sum + (n ? (n - 1) * kGap : 0);
    };
    auto cut_text = [&] {  // narrows the widest text column by one until it fits
        while (total() > limit) {
            std::size_t best = cols.size();
            for (std::size_t c = 0; c < cols.size(); ++c) {
                std::size_t floor = std::max(visible_length(header(c)), kMinText);
                if (shown[c] && cols[c].text && w[c] > floor && (best == cols.size() || w[c] > w[best])) best = c;
            }
            if (best == cols.size()) return;
            --w[best];
        }
    };
    natural();
    if (limit && total() > limit) {
        short_headers = true;
        natural();
        cut_text();
        while (total() > limit) {
            std::size_t victim = cols.size();
            for (std::size_t c = 0; c < cols.size(); ++c)
                if (shown[c] && cols[c].drop > 0 && (victim == cols.size() || cols[c].drop >= cols[victim].drop)) victim = c;
            if (victim == cols.size()) break;  // what is left is cut per line below
            shown[victim] = false;
            natural();
            cut_text();
        }
    }
    FittedTable out;
    for (std::size_t c = 0; c < cols.size(); ++c)
        if (!shown[c]) out.hidden.push_back(cols[c].header);
    auto line = [&](const std::vector<std::string>& cells, bool is_header) {
        std::string s;
        std::size_t pad = 0;
        for (std::size_t c = 0; c < cols.size(); ++c) {
            if (!shown[c]) continue;
            std::string cell = fit_columns(cells[c], w[c]);
            s += std::string(pad, ' ') + cell;
            pad = w[c] - visible_length(cell) + kGap;
        }
        if (is_header && !out.hidden.empty()) s += std::string(pad, ' ') + kMore;
        while (!s.empty() && s.back() == ' ') s.pop_back();
        return (limit ? fit_columns(s, limit) : s) + "\n";
    };
    std::vector<std::string> headers;
    for (std::size_t c = 0; c < cols.size(); ++c) headers.push_back(header(c));
    out.text = line(headers, true);
    for (const auto& r : rows) out.text += line(r, false);
    return out;
}


}  // namespace wfq::cli
