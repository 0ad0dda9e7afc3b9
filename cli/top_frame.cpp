// `wfq top`: one frame of the live view as plain text, from one TopSnapshot.
#include "top_frame.h"

#include "table.h"

#include <wfq/duration.h>

#include <algorithm>

namespace wfq::cli {
namespace {

const std::string kMore = "…";  // the summary line ends in it when items are left off

// A section: its title (naming the columns not shown, if any) and its table.
std::string section(const std::string& title, const std::vector<Column>& cols, const std::vector<std::vector<std::string>>& rows,
                    int width) {
    FittedTable t = fit_table(cols, rows, width);
    std::string head = title;
    if (!t.hidden.empty()) {
        head += "  (hidden: ";
        for (std::size_t i = 0; i < t.hidden.size(); ++i) head += (i ? ", " : "") + t.hidden[i];
        head += ")";
    }
    return (width > 0 ? fit_columns(head, static_cast<std::size_t>(width)) : head) + "\n" + t.text;
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
    if (width <= 0 || visible_length(full) <= static_cast<std::size_t>(width)) return full;
    for (std::size_t n = items.size(); n > 0; --n) {
        std::string s = join(true, n);
        if (visible_length(s) <= static_cast<std::size_t>(width)) return s;
    }
    return fit_columns(full, static_cast<std::size_t>(width));
}

std::string age(TimeMs now, TimeMs then) { return format_duration_ms(std::max<std::int64_t>(0, now - then)); }

}  // namespace

std::string render_top_text(const TopSnapshot& s, int width) {
    std::int64_t pending = 0, running = 0, failed = 0, rate = 0;
    bool pending_estimated = false, failed_estimated = false;
    for (const auto& q : s.queues) {
        pending += q.summary.pending;
        running += q.summary.running;
        failed += q.summary.failed;
        rate += q.completed_last_minute;
        pending_estimated = pending_estimated || q.summary.pending_estimated;
        failed_estimated = failed_estimated || q.summary.failed_estimated;
    }
    std::string time = format_time(s.now);
    std::string out = summary({{"wfq top", ""},
                               {time.substr(0, 19) + "Z", time.substr(11, 8) + "Z"},
                               {"pending " + count_text(pending, pending_estimated), ""},
                               {"running " + std::to_string(running), ""},
                               {"failed " + count_text(failed, failed_estimated), ""},
                               {"done/min " + std::to_string(rate), ""},
                               {"workers " + std::to_string(s.workers.size()), ""}},
                              width) +
                      "\n\n";

    std::vector<std::vector<std::string>> rows;
    for (const auto& q : s.queues)
        rows.push_back({q.summary.queue, count_text(q.summary.pending, q.summary.pending_estimated),
                        count_text(q.summary.scheduled, q.summary.pending_estimated), std::to_string(q.summary.running),
                        std::to_string(q.summary.waiting), count_text(q.summary.failed, q.summary.failed_estimated),
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

    // Running jobs: the longest running (how long) and those past their lease (since when).
    auto running_jobs = [&](const char* title, const std::vector<TopSnapshot::JobRow>& jobs, const char* age_header) {
        std::vector<std::vector<std::string>> job_rows;
        for (const auto& j : jobs)
            job_rows.push_back({std::to_string(j.id), j.type, j.queue, j.worker, std::to_string(j.attempt), age(s.now, j.at)});
        return "\n" + section(title,
                              {{"ID", "", 0, false},
                               {"TYPE", "", 0, true},
                               {"QUEUE", "", 1, true},
                               {"WORKER", "", 0, true},
                               {"ATTEMPT", "ATT", 2, false},
                               {age_header, "", 0, false}},
                              job_rows, width);
    };
    out += running_jobs("LONGEST RUNNING", s.longest_running, "RUNNING");
    out += running_jobs("STUCK (running past their lease)", s.stuck, "EXPIRED");
    if (!s.limits.empty()) {
        rows.clear();
        for (const auto& l : s.limits)
            rows.push_back({l.key, l.rule, std::to_string(l.running) + (l.concurrency ? "/" + std::to_string(*l.concurrency) : ""),
                            std::to_string(l.held)});
        out += "\n" + section("HELD BACK (limit keys at their limit)",
                              {{"KEY", "", 0, true}, {"RULE", "", 1, true}, {"RUNNING", "RUN", 0, false}, {"HELD", "", 0, false}},
                              rows, width);
    }
    return out;
}

}  // namespace wfq::cli
