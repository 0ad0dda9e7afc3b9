#include <wfq/duration.h>
#include <wfq/top.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

namespace wfq {
namespace {

std::string table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> w(headers.size());
    for (std::size_t i = 0; i < headers.size(); ++i) w[i] = headers[i].size();
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    auto line = [&](const std::vector<std::string>& cells) {
        std::string s;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            s += cells[i];
            if (i + 1 < cells.size()) s += std::string(w[i] - cells[i].size() + 2, ' ');
        }
        return s + "\n";
    };
    std::string out = line(headers);
    for (const auto& r : rows) out += line(r);
    return out;
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
    std::string out = "wfq top  " + format_time(s.now).substr(0, 19) + "Z  pending " + std::to_string(pending) + "  running " +
                      std::to_string(running) + "  failed " + std::to_string(failed) + "  done/min " + std::to_string(rate) +
                      "  workers " + std::to_string(s.workers.size()) + "\n\nQUEUES\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& q : s.queues)
        rows.push_back({q.summary.queue, std::to_string(q.summary.pending), std::to_string(q.summary.scheduled),
                        std::to_string(q.summary.running), std::to_string(q.summary.waiting), std::to_string(q.summary.failed),
                        std::to_string(q.completed_last_minute), std::to_string(q.failed_last_minute),
                        q.summary.oldest_pending_age_ms ? format_duration_ms(*q.summary.oldest_pending_age_ms) : "-",
                        q.summary.paused ? "paused" : ""});
    out += table({"QUEUE", "PENDING", "SCHEDULED", "RUNNING", "WAITING", "FAILED", "DONE/MIN", "FAILED/MIN", "OLDEST", "STATUS"}, rows);
    out += "\nWORKERS\n";
    rows.clear();
    for (const auto& w : s.workers)
        rows.push_back({w.id, w.hostname, std::to_string(w.running), age(s.now, w.started_at), age(s.now, w.last_heartbeat) + " ago"});
    out += table({"ID", "HOST", "RUNNING", "UP", "HEARTBEAT"}, rows);
    out += "\nRECENT FAILURES\n";
    rows.clear();
    for (const auto& j : s.recent_failures)
        rows.push_back({std::to_string(j.id), j.type, j.queue, j.error_class, std::to_string(j.attempt), age(s.now, j.at) + " ago"});
    out += table({"ID", "TYPE", "QUEUE", "CLASS", "ATTEMPT", "FAILED"}, rows);
    out += "\nSTUCK (running past their lease)\n";
    rows.clear();
    for (const auto& j : s.stuck)
        rows.push_back({std::to_string(j.id), j.type, j.queue, j.worker, std::to_string(j.attempt), age(s.now, j.at)});
    out += table({"ID", "TYPE", "QUEUE", "WORKER", "ATTEMPT", "EXPIRED"}, rows);
    if (width <= 0) return out;
    std::string cut;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) cut += line.substr(0, static_cast<std::size_t>(width)) + "\n";
    return cut;
}

std::string top_to_json(const TopSnapshot& s) {
    using nlohmann::json;
    json out{{"now", format_time(s.now)}};
    json queues = json::array(), workers = json::array(), failures = json::array(), stuck = json::array();
    for (const auto& q : s.queues)
        queues.push_back({{"queue", q.summary.queue}, {"pending", q.summary.pending}, {"scheduled", q.summary.scheduled},
                          {"running", q.summary.running}, {"waiting", q.summary.waiting}, {"failed", q.summary.failed},
                          {"completed_last_hour", q.summary.completed_last_hour},
                          {"completed_last_minute", q.completed_last_minute}, {"failed_last_minute", q.failed_last_minute},
                          {"oldest_pending_age_ms", q.summary.oldest_pending_age_ms ? json(*q.summary.oldest_pending_age_ms) : json()},
                          {"paused", q.summary.paused}});
    for (const auto& w : s.workers)
        workers.push_back({{"id", w.id}, {"hostname", w.hostname}, {"running", w.running},
                           {"started_at", format_time(w.started_at)}, {"last_heartbeat", format_time(w.last_heartbeat)}});
    for (const auto& j : s.recent_failures)
        failures.push_back({{"id", j.id}, {"type", j.type}, {"queue", j.queue}, {"error_class", j.error_class},
                            {"attempt", j.attempt}, {"finished_at", format_time(j.at)}});
    for (const auto& j : s.stuck)
        stuck.push_back({{"id", j.id}, {"type", j.type}, {"queue", j.queue}, {"worker", j.worker}, {"attempt", j.attempt},
                         {"lease_expires_at", format_time(j.at)}});
    out["queues"] = queues;
    out["workers"] = workers;
    out["recent_failures"] = failures;
    out["stuck"] = stuck;
    return out.dump();
}

}  // namespace wfq
