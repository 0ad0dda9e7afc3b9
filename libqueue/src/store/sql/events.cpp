// A job's timeline (stored events plus those derived from its row) and its spans.
#include "sql_store.h"

#include "rows.h"

#include <wfq/trace.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

namespace wfq::store {

// The timeline: stored events plus those the happy path does not store, derived from the job
// row (enqueued at created_at, each attempt's claim from its started_at, completed at
// finished_at).
std::vector<JobEvent> SqlStore::job_events(std::int64_t id) {
    std::vector<JobEvent> stored;
    for (const auto& r : run(std::string("SELECT ") + kJobEventColumns +
                                 " FROM job_events WHERE job_id = $1 AND kind <> 'span' ORDER BY id",
                             {id}))
        stored.push_back(job_event_from_row(r));
    auto job = get_job(id);
    if (!job) return stored;
    auto has = [&](const std::string& kind) {
        return std::any_of(stored.begin(), stored.end(), [&](const JobEvent& e) { return e.kind == kind; });
    };
    std::vector<JobEvent> out;
    if (!has("enqueued")) out.push_back({0, id, job->created_at, "enqueued", "pending", 0, std::nullopt, std::nullopt, std::nullopt});
    std::set<std::int64_t> claims;  // started_at of attempts already shown
    for (const auto& e : stored) {
        if (e.kind == "claimed") claims.insert(e.at);
        if (!e.data || e.data->find("\"started_at\"") == std::string::npos) continue;
        auto data = nlohmann::json::parse(*e.data, nullptr, false);
        if (!data.is_object() || !data.contains("started_at") || !data["started_at"].is_number_integer()) continue;
        std::int64_t at = data["started_at"].get<std::int64_t>();
        if (claims.count(at)) continue;
        claims.insert(at);
        int attempt = e.kind == "snoozed" || e.kind == "deferred" || e.kind == "released" ? e.attempt + 1 : e.attempt;
        out.push_back({0, id, at, "claimed", "running", attempt, e.worker, std::nullopt, std::nullopt});
    }
    if (job->started_at && !claims.count(*job->started_at) && job->attempt > 0 &&
        (job->state == JobState::running || job->state == JobState::completed ||
         (job->state == JobState::failed && job->last_worker) || job->state == JobState::cancelled))
        out.push_back({0, id, *job->started_at, "claimed", "running", job->attempt, job->last_worker, std::nullopt,
                       std::nullopt});
    for (auto& e : stored) out.push_back(std::move(e));
    if (job->state == JobState::completed && !has("completed") && job->finished_at)
        out.push_back({0, id, *job->finished_at, "completed", "completed", job->attempt, job->last_worker, std::nullopt,
                       std::nullopt});
    // By time; at equal times derived claims and enqueues first, stored events in their order.
    std::stable_sort(out.begin(), out.end(), [](const JobEvent& a, const JobEvent& b) {
        auto rank = [](const JobEvent& e) { return e.kind == "enqueued" ? 0 : e.kind == "claimed" ? 1 : e.kind == "completed" ? 3 : 2; };
        if (a.at != b.at) return a.at < b.at;
        return rank(a) < rank(b);
    });
    return out;
}

void SqlStore::add_event(std::int64_t job_id, const std::string& kind, const std::string& state, int attempt,
                         const std::optional<std::string>& worker, const std::optional<std::string>& message,
                         const std::optional<std::string>& data) {
    m_db->exec("INSERT INTO job_events (job_id, at, kind, state, attempt, worker, message, data) "
               "VALUES ($1, wfq_now_ms(), $2, $3, $4, $5, $6, $7)",
               {job_id, kind, state, std::int64_t(attempt), opt(worker), opt(message), opt(data)});
}

// Appends events given as a JSON array of {id, kind, state, attempt, worker, message, data}.
void SqlStore::insert_events(const nlohmann::json& events) {
    m_db->exec("INSERT INTO job_events (job_id, at, kind, state, attempt, worker, message, data) "
               "SELECT u.id, wfq_now_ms(), u.kind, u.state, u.attempt, u.worker, u.message, u.data FROM " +
                   m_db->json_rows("$1", {{"id", "bigint"}, {"kind", "text"}, {"state", "text"}, {"attempt", "integer"},
                                          {"worker", "text"}, {"message", "text"}, {"data", "text"}}),
               {events.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
}

void SqlStore::insert_spans(std::int64_t job_id, int attempt, const std::vector<std::string>& spans) {
    if (spans.empty()) return;
    std::string sql = "INSERT INTO job_events (job_id, at, kind, state, attempt, data) VALUES ";
    Params params{job_id, std::int64_t(attempt)};
    for (std::size_t i = 0; i < spans.size(); ++i) {
        sql += (i ? ", " : "") + std::string("($1, wfq_now_ms(), 'span', '', $2, $") + std::to_string(params.size() + 1) + ")";
        params.emplace_back(spans[i]);
    }
    m_db->exec(sql, params);
}

void SqlStore::add_job_spans(std::int64_t job_id, int attempt, const std::vector<std::string>& spans) {
    if (spans.empty()) return;
    transact([&] { insert_spans(job_id, attempt, spans); });
}

std::vector<std::string> SqlStore::job_spans(std::int64_t job_id) {
    std::vector<std::string> out;
    for (const auto& r : run("SELECT data FROM job_events WHERE job_id = $1 AND kind = 'span' ORDER BY id", {job_id}))
        out.push_back(r.str(0));
    // Each attempt's spans are one line of the job's spans column, a JSON array.
    auto rows = run("SELECT spans FROM jobs WHERE id = $1", {job_id});
    if (rows.empty() || rows[0].is_null(0)) return out;
    const std::string& packed = rows[0].str(0);
    std::size_t start = 0;
    while (start < packed.size()) {
        auto end = packed.find('\n', start);
        if (end == std::string::npos) end = packed.size();
        std::string line = packed.substr(start, end - start);
        if (line.rfind("{\"v\":1,", 0) == 0) {
            try {
                for (auto& sp : unpack_attempt_spans(line, job_id)) out.push_back(std::move(sp));
            } catch (const Error&) {
            }
        } else {
            auto spans = nlohmann::json::parse(line, nullptr, false);
            if (spans.is_array())
                for (const auto& sp : spans) out.push_back(sp.dump());
        }
        start = end + 1;
    }
    return out;
}

}  // namespace wfq::store
