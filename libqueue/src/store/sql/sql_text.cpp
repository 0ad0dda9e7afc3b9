#include "sql_text.h"

#include <algorithm>

namespace wfq::store {

std::string turn_key(const std::string& alias) {
    const std::string a = alias.empty() ? "" : alias + ".";
    return "(CASE WHEN " + a + "run_at < 9000000000000 THEN " + a + "run_at ELSE 9000000000000 END * 1000000 + " + a +
           "turn_lag)";
}

std::string placeholders(std::size_t first, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        if (i) s += ", ";
        s += "$" + std::to_string(first + i);
    }
    return s;
}

std::vector<std::string> distinct_queues(const std::vector<std::string>& queues) {
    std::vector<std::string> out;
    for (const auto& q : queues)
        if (std::find(out.begin(), out.end(), q) == out.end()) out.push_back(q);
    return out;
}

std::string queue_not_paused(const std::string& q) {
    return "NOT EXISTS (SELECT 1 FROM queue_pauses qp WHERE qp.queue = " + q + ")";
}
std::string no_paused_queue(const std::string& column) {
    return column + " NOT IN (SELECT qp.queue FROM queue_pauses qp)";
}

void add_in(std::string& sql, Params& params, const std::string& column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    sql += " AND " + column + " IN (" + placeholders(params.size() + 1, values.size()) + ")";
    for (const auto& v : values) params.emplace_back(v);
}

std::string join_csv(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

std::vector<std::string> split_csv(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size() && !s.empty()) {
        auto comma = s.find(',', start);
        out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

}  // namespace wfq::store
