#include <wfq/job.h>

namespace wfq {

const char* to_string(JobState state) noexcept {
    switch (state) {
        case JobState::pending: return "pending";
        case JobState::running: return "running";
        case JobState::waiting: return "waiting";
        case JobState::completed: return "completed";
        case JobState::failed: return "failed";
        case JobState::cancelled: return "cancelled";
    }
    return "pending";
}

std::optional<JobState> parse_job_state(const std::string& name) {
    for (auto s : {JobState::pending, JobState::running, JobState::waiting, JobState::completed, JobState::failed,
                   JobState::cancelled})
        if (name == to_string(s)) return s;
    return std::nullopt;
}

const char* to_string(KeyMode mode) noexcept {
    switch (mode) {
        case KeyMode::keep: return "keep";
        case KeyMode::replace: return "replace";
        case KeyMode::preserve_run_at: return "preserve-run-at";
    }
    return "keep";
}

std::optional<KeyMode> parse_key_mode(const std::string& name) {
    if (name == "preserve_run_at") return KeyMode::preserve_run_at;
    for (auto m : {KeyMode::keep, KeyMode::replace, KeyMode::preserve_run_at})
        if (name == to_string(m)) return m;
    return std::nullopt;
}

std::string display_state(JobState state, TimeMs run_at, int attempt, TimeMs now) {
    if (state == JobState::pending) {
        if (run_at > now) return attempt > 0 ? "retrying" : "scheduled";
        if (attempt > 0) return "retrying";
    }
    return to_string(state);
}

}  // namespace wfq
