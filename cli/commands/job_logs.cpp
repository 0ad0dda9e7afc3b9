// `wfq jobs logs ID`: each attempt's handler stderr as the completer stored it.
#include "common.h"

#include <wfq/job_log.h>

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
    // --follow: each attempt's log as its outcome is recorded (a rerun of the same attempt
    // number again), until the job is finished; --json writes one object per line.
    std::map<int, std::int64_t> shown;  // attempt -> at of the log printed
    for (;;) {
        const bool last = finished(job->state);  // read before the logs: nothing recorded after it is missed
        for (const auto& l : store.job_logs(o.id, o.attempt)) {
            auto it = shown.find(l.attempt);
            if (it != shown.end() && it->second == l.at_ms) continue;
            shown[l.attempt] = l.at_ms;
            if (o.json) std::cout << attempt_log_json(l).dump() << "\n" << std::flush;
            else print_attempt_log(l, !o.attempt);
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
    logs->add_flag("--follow", o->follow, "Print each attempt's log as it is recorded, until the job is finished");
    logs->add_flag("--json", o->json, "Print JSON (a JSON array; with --follow one object per line)");
    on_run(logs, ctx, o, run_logs);
}

}  // namespace wfq::cli
