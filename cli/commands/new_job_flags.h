#pragma once
// The flags that describe a new job, shared by `enqueue` and `schedule add` (whose ticks
// enqueue one): defined once, so both take the same names, defaults and help.
#include <wfq/errors.h>
#include <wfq/job.h>
#include <wfq/limits.h>
#include <wfq/text.h>

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace wfq::cli {

struct NewJobFlags {
    std::string queue = "default";
    int priority = 0;
    int max_attempts = 3;
    std::optional<std::string> key, key_mode, org, repo;
    std::vector<std::string> limits;
    std::optional<std::string> group;
};

// Adds --queue, --priority, --max-attempts, --key, --key-mode, --org, --repo, --limit and --group,
// bound to flags.
inline void add_new_job_flags(CLI::App* sub, NewJobFlags& flags) {
    sub->add_option("--queue", flags.queue, "Queue name")->capture_default_str();
    sub->add_option("--priority", flags.priority, "Higher runs first")->capture_default_str();
    sub->add_option("--max-attempts", flags.max_attempts, "Attempts before a job fails for good")->capture_default_str();
    sub->add_option("--key", flags.key, "Idempotency key: no new job while one with this key is active");
    sub->add_option("--key-mode", flags.key_mode,
                    "What a new job with --key does to a pending one: keep (the default), replace (payload and run_at) "
                    "or preserve-run-at (payload only); a started one is never changed, one new job runs after it");
    sub->add_option("--org", flags.org, "Organisation (config scope)");
    sub->add_option("--repo", flags.repo, "Repository (config scope)");
    sub->add_option("--limit", flags.limits, "A limit key (repeatable, at most 8): `wfq limits set` rules cap its running jobs and start rate")
        ->allow_extra_args(false);
    sub->add_option("--group", flags.group, "Flow control's group (default: the org): groups of equal priority take turns")
        ->allow_extra_args(false);
}

// --key-mode as a KeyMode (keep when absent). Error(usage) naming the flag for an unknown mode, or
// for a mode without --key unless keys come from elsewhere (enqueue --ndjson's lines).
inline KeyMode key_mode_flag(const NewJobFlags& flags, bool keys_from_lines) {
    if (!flags.key_mode) return KeyMode::keep;
    auto mode = parse_key_mode(*flags.key_mode);
    if (!mode) throw Error(ErrorCode::usage, "--key-mode must be keep, replace or preserve-run-at (got '" + *flags.key_mode + "')");
    if (!flags.key && !keys_from_lines) throw Error(ErrorCode::usage, "--key-mode needs --key");
    return *mode;
}

// The flags into a job or a schedule (both have these fields).
template <typename NewJobOrSchedule>
void apply_new_job_flags(const NewJobFlags& flags, NewJobOrSchedule& out, bool keys_from_lines = false) {
    out.queue = flags.queue;
    out.priority = flags.priority;
    out.max_attempts = flags.max_attempts;
    out.key = flags.key;
    out.key_mode = key_mode_flag(flags, keys_from_lines);
    out.org = flags.org;
    out.repo = flags.repo;
    check_limit_keys(flags.limits, ErrorCode::usage, "--limit");
    out.limits = flags.limits;
    if (flags.group) check_name("--group", *flags.group, kMaxGroupBytes, ErrorCode::usage);
    out.group = flags.group;
}

}  // namespace wfq::cli
