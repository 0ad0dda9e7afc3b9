#include <wfq/duration.h>
#include <wfq/top.h>

#include <algorithm>
#include <sstream>

namespace wfq {
namespace {

// Terminal columns a UTF-8 string takes (one per code point; wfq's names are not East Asian wide).
std::size_t columns(const std::string& s) {
    std::size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
    return n;
}

// s in at most width columns: cut at a code point and ended with "…" when it is longer.
std::string fit(const std::string& s, std::size_t width) {
    if (columns(s) <= width) return s;
    if (width == 0) return "";
    std::size_t bytes = 0;
    for (std::size_t seen = 0; bytes < s.size() && seen + 1 < width; ++seen) {
        ++bytes;
        while (bytes < s.size() && (static_cast<unsigned char>(s[bytes]) & 0xc0) == 0x80) ++bytes;
    }
    return s.substr(0, bytes) + "…";
}

// A column of a table. To add one (say a running time), add a Column and a cell to each row.
struct Column {
    std::string header;
    std::string short_header;  // used when the table does not fit its width ("": the header)
    int drop = 0;              // 0: always shown; others are dropped, highest first, when it still does not fit
    bool text = false;         // a name: may be cut with "…" (never a number, a duration or a state)
};

constexpr std::size_t kGap = 2;        // spaces between columns
constexpr std::size_t kMinText = 8;    // a text column is not cut below this (or its header)
const std::string kMore = "…";         // the last header when columns are not shown

struct Table {
    std::string text;                  // the header line and the rows
    std::vector<std::string> hidden;   // headers of the columns not shown
};

// Rows aligned under the headers. With width > 0 every line fits it: short headers first, then
// text columns cut (widest first, each ending in "…"), then columns dropped in their drop order
// (the header line then ends in "…" and hidden names them); a value is never cut mid-word
// without a mark.
Table table(const std::vector<Column>& cols, std::vector<std::vector<std::string>> rows, int width) {
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
            w[c] = columns(header(c));
            for (const auto& r : rows) w[c] = std::max(w[c], columns(r[c]));
        }
    };
    auto total = [&] {
        std::size_t sum = 0, n = 0;
        for (std::size_t c = 0; c < cols.size(); ++c)
            if (shown[c]) sum += w[c], ++n;
        bool more = std::find(shown.begin(), shown.end(), false) != shown.end();
        if (more) sum += columns(kMore), ++n;
        return sum + (n ? (n - 1) * kGap : 0);
    };
    auto cut_text = [&] {  // narrows the widest text column by one until it fits
        while (total() > limit) {
            std::size_t best = cols.size();
            for (std::size_t c = 0; c < cols.size(); ++c) {
                std::size_t floor = std::max(columns(header(c)), kMinText);
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
    Table out;
    for (std::size_t c = 0; c < cols.size(); ++c)
        if (!shown[c]) out.hidden.push_back(cols[c].header);
    auto line = [&](const std::vector<std::string>& cells, bool is_header) {
        std::string s;
        std::size_t pad = 0;
        for (std::size_t c = 0; c < cols.size(); ++c) {
            if (!shown[c]) continue;
            std::string cell = fit(cells[c], w[c]);
            s += std::string(pad, ' ') + cell;
            pad = w[c] - columns(cell) + kGap;
        }
        if (is_header && !out.hidden.empty()) s += std::string(pad, ' ') + kMore;
        while (!s.empty() && s.back() == ' ') s.pop_back();
        return (limit ? fit(s, limit) : s) + "\n";
    };
    std::vector<std::string> headers;
    for (std::size_t c = 0; c < cols.size(); ++c) headers.push_back(header(c));
    out.text = line(headers, true);
    for (const auto& r : rows) out.text += line(r, false);
    return out;
}

// A section: its title (naming the columns not shown, if any) and its table.
std::string section(const std::string& title, const std::vector<Column>& cols, const std::vector<std::vector<std::string>>& rows,
                    int width) {
    Table t = table(cols, rows, width);
    std::string head = title;
    if (!t.hidden.empty()) {
        head += "  (hidden: ";
        for (std::size_t i = 0; i < t.hidden.size(); ++i) head += (i ? ", " : "") + t.hidden[i];
        head += ")";
    }
    return (width > 0 ? fit(head, static_cast<std::size_t>(width)) : head) + "\n" + t.text;
}

// The summary line: items joined by two spaces; those that do not fit are left off, and "…"
// says so. An item may have a shorter form tried first.
std::string summary(const std::vector<std::pair<std::string, std::string>>& items, int width) {
    auto join = [&](bool shorter, std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i)
            s += (i ? "  " : "") + (shorter && !items[i].second.empty() ? items[i].second : items[i].first);
        return s + (n < items.size() ? "  " + kMore : "");
    };
    std::string full = join(false, items.size());
    if (width <= 0 || columns(full) <= static_cast<std::size_t>(width)) return full;
    for (std::size_t n = items.size(); n > 0; --n) {
        std::string s = join(true, n);
        if (columns(s) <= static_cast<std::size_t>(width)) return s;
    }
    return fit(full, static_cast<std::size_t>(width));
}

std::string age(TimeMs now, TimeMs then) { return format_duration_ms(std::max<std::int64_t>(0, now - then)); }

}  // namespace

std::string render_top_text(const TopSnapshot& s, int width) {
    std::int64_t pending = 0, running = 0, failed = 0, rate = 0;
    for (const auto& q : s.queues) {
        pending += q.summary.pending;
        running += q.summary.running;
        failed += q.summary.failed;
        rate += q.completed_last_minute;
    }
    std::string time = format_time(s.now);
    std::string out = summary({{"wfq top", ""},
                               {time.substr(0, 19) + "Z", time.substr(11, 8) + "Z"},
                               {"pending " + std::to_string(pending), ""},
                               {"running " + std::to_string(running), ""},
                               {"failed " + std::to_string(failed), ""},
                               {"done/min " + std::to_string(rate), ""},
                               {"workers " + std::to_string(s.workers.size()), ""}},
                              width) +
                      "\n\n";

    std::vector<std::vector<std::string>> rows;
    for (const auto& q : s.queues)
        rows.push_back({q.summary.queue, std::to_string(q.summary.pending), std::to_string(q.summary.scheduled),
                        std::to_string(q.summary.running), std::to_string(q.summary.waiting), std::to_string(q.summary.failed),
                        std::to_string(q.completed_last_minute), std::to_string(q.failed_last_minute),
                        q.summary.oldest_pending_age_ms ? format_duration_ms(*q.summary.oldest_pending_age_ms) : "-",
                        q.summary.paused ? "paused" : ""});
    out += section("QUEUES",
                   {{"QUEUE", "", 0, true},
                    {"PENDING", "PEND", 0, false},
                    {"SCHEDULED", "SCHED", 4, false},
                    {"RUNNING", "RUN", 0, false},
                    {"WAITING", "WAIT", 3, false},
                    {"FAILED", "FAIL", 0, false},
                    {"DONE/MIN", "DONE/M", 2, false},
                    {"FAILED/MIN", "FAIL/M", 1, false},
                    {"OLDEST", "", 0, false},
                    {"STATUS", "", 0, false}},
                   rows, width);

    rows.clear();
    for (const auto& w : s.workers)
        rows.push_back({w.id, w.hostname, std::to_string(w.running), age(s.now, w.started_at), age(s.now, w.last_heartbeat) + " ago"});
    out += "\n" + section("WORKERS",
                          {{"ID", "", 0, true},
                           {"HOST", "", 2, true},
                           {"RUNNING", "RUN", 0, false},
                           {"UP", "", 1, false},
                           {"HEARTBEAT", "", 0, false}},
                          rows, width);

    rows.clear();
    for (const auto& j : s.recent_failures)
        rows.push_back({std::to_string(j.id), j.type, j.queue, j.error_class, std::to_string(j.attempt), age(s.now, j.at) + " ago"});
    out += "\n" + section("RECENT FAILURES",
                          {{"ID", "", 0, false},
                           {"TYPE", "", 0, true},
                           {"QUEUE", "", 1, true},
                           {"CLASS", "", 0, true},
                           {"ATTEMPT", "ATT", 2, false},
                           {"FAILED", "", 0, false}},
                          rows, width);

    rows.clear();
    for (const auto& j : s.stuck)
        rows.push_back({std::to_string(j.id), j.type, j.queue, j.worker, std::to_string(j.attempt), age(s.now, j.at)});
    out += "\n" + section("STUCK (running past their lease)",
                          {{"ID", "", 0, false},
                           {"TYPE", "", 0, true},
                           {"QUEUE", "", 1, true},
                           {"WORKER", "", 0, true},
                           {"ATTEMPT", "ATT", 2, false},
                           {"EXPIRED", "", 0, false}},
                          rows, width);
    return out;
}

}  // namespace wfq
