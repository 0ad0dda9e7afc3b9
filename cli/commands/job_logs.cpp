// `wfq jobs logs ID`: each attempt's handler stderr as the worker stored it (while the attempt
// runs, and with its outcome).
#include "common.h"

#include <wfq/job_log.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

namespace wfq::cli {
namespace {

struct LogsOptions {
    std::int64_t id = 0;
    std::optional<int> attempt;
    bool follow = false;
    bool json = false;
};

json attempt_log_json(const StoredAttemptLog& l) {
    return {{"job_id", l.job_id},
            {"attempt", l.attempt},
            {"at", format_time(l.at_ms)},
            {"log", l.log.text},
            {"truncated", l.log.dropped_bytes > 0},
            {"dropped_bytes", l.log.dropped_bytes}};
}

void print_attempt_log(const StoredAttemptLog& l, bool header) {
    if (header) std::cout << "== attempt " << l.attempt << " (" << format_time(l.at_ms) << ") ==\n";
    if (l.log.dropped_bytes > 0)
        std::cout << "[wfq: " << l.log.dropped_bytes << " earlier bytes of this attempt's log were dropped (--log-cap)]\n";
    std::cout << l.log.text << std::flush;
}

bool finished(JobState s) { return s == JobState::completed || s == JobState::failed || s == JobState::cancelled; }

// Attempt n has ended: a later one began, or the job is no longer running it.
bool attempt_over(const Job& job, int n) { return job.attempt > n || (job.attempt == n && job.state != JobState::running); }

// What now adds to before, the same attempt's log as last printed: the lines after the ones
// printed (dropped_bytes: those the cap dropped before they could be printed). When now does not
// continue before (a rerun of the attempt number replaced it), all of now, and restarted is set.
StoredAttemptLog new_lines(const AttemptLog& before, const StoredAttemptLog& now, bool& restarted) {
    const std::int64_t printed_end = before.dropped_bytes + static_cast<std::int64_t>(before.text.size());
    const std::int64_t now_start = now.log.dropped_bytes, now_end = now_start + static_cast<std::int64_t>(now.log.text.size());
    StoredAttemptLog out = now;
    if (now_end < printed_end) {
        restarted = true;
        return out;
    }
    if (now_start <= printed_end) {
        // The bytes both hold must be the same for now to continue before.
        const std::int64_t from = std::max(now_start, before.dropped_bytes);
        const auto n = static_cast<std::size_t>(printed_end - from);
        if (now.log.text.compare(static_cast<std::size_t>(from - now_start), n, before.text,
                                 static_cast<std::size_t>(from - before.dropped_bytes), n) != 0) {
            restarted = true;
            return out;
        }
        out.log.text = now.log.text.substr(static_cast<std::size_t>(printed_end - now_start));
        out.log.dropped_bytes = 0;
        return out;
    }
    out.log.dropped_bytes = now_start - printed_end;  // lines the cap dropped between two reads
    return out;
}

int run_logs(Context& ctx, LogsOptions& o) {
    if (o.attempt && *o.attempt < 1) throw Error(ErrorCode::usage, "--attempt must be at least 1");
    Store& store = ctx.store();
    auto job = store.get_job(o.id);
    if (!job) throw Error(ErrorCode::not_found, "job " + std::to_string(o.id) + " not found");
    if (!o.follow) {
        auto logs = store.job_logs(o.id, o.attempt);
        if (o.attempt && logs.empty())
            throw Error(ErrorCode::not_found, "job " + std::to_string(o.id) + " has no log for attempt " + std::to_string(*o.attempt));
        if (o.json) {
            json out = json::array();
            for (const auto& l : logs) out.push_back(attempt_log_json(l));
            std::cout << out.dump() << "\n";
            return 0;
        }
        for (const auto& l : logs) print_attempt_log(l, !o.attempt);
        return 0;
    }
    // --follow: each attempt's lines as they are written (every half second or so while it
    // runs, then with its outcome), until the job is finished, or with --attempt until that
    // attempt has ended; --json writes one object per written log, its new lines in "log".
    std::map<int, AttemptLog> shown;  // attempt -> the log as last printed
    for (;;) {
        // Read before the logs: nothing written after the attempt ended is missed.
        const bool last = finished(job->state) || (o.attempt && attempt_over(*job, *o.attempt));
        for (const auto& l : store.job_logs(o.id, o.attempt)) {
            auto it = shown.find(l.attempt);
            bool restarted = it == shown.end();
            StoredAttemptLog news = restarted ? l : new_lines(it->second, l, restarted);
            shown[l.attempt] = l.log;
            if (news.log.empty()) continue;
            if (o.json) std::cout << attempt_log_json(news).dump() << "\n" << std::flush;
            else print_attempt_log(news, !o.attempt && restarted);
        }
        if (last) return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));  // the poll interval, not a wait for a race
        job = store.get_job(o.id);
        if (!job) return 0;  // pruned meanwhile: nothing more will come
    }
}

}  // namespace

void add_job_logs_command(CLI::App* jobs, Context& ctx) {
    auto o = std::make_shared<LogsOptions>();
    auto* logs = jobs->add_subcommand("logs", "Print a job's own logs: each attempt's handler stderr (up to --log-cap)");
    logs->add_option("id", o->id, "Job id")->required();
    logs->add_option("--attempt", o->attempt, "Only this attempt");
    logs->add_flag("--follow", o->follow,
                   "Print each attempt's lines as they are written (also while it runs), until the job is finished (with "
                   "--attempt: until that attempt has ended)");
    logs->add_flag("--json", o->json, "Print JSON (a JSON array; with --follow one object per line)");
    on_run(logs, ctx, o, run_logs);
}

}  // namespace wfq::cli
