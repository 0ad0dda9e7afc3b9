#pragma once
// The flags that describe a new job, shared by `enqueue` and `schedule add` (whose ticks
// enqueue one): defined once, so both take the same names, defaults and help.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace wfq::cli {

struct NewJobFlags {
    std::string queue = "default";
    int priority = 0;
    int max_attempts = 3;
    std::optional<std::string> key, org, repo;
};

// Adds --queue, --priority, --max-attempts, --key, --org and --repo, bound to flags.
inline void add_new_job_flags(CLI::App* sub, NewJobFlags& flags) {
    sub->add_option("--queue", flags.queue, "Queue name")->capture_default_str();
    sub->add_option("--priority", flags.priority, "Higher runs first")->capture_default_str();
    sub->add_option("--max-attempts", flags.max_attempts, "Attempts before a job fails for good")->capture_default_str();
    sub->add_option("--key", flags.key, "Idempotency key: no new job while one with this key is active");
    sub->add_option("--org", flags.org, "Organisation (config scope)");
    sub->add_option("--repo", flags.repo, "Repository (config scope)");
}

// The flags into a job or a schedule (both have these fields).
template <typename NewJobOrSchedule>
void apply_new_job_flags(const NewJobFlags& flags, NewJobOrSchedule& out) {
    out.queue = flags.queue;
    out.priority = flags.priority;
    out.max_attempts = flags.max_attempts;
    out.key = flags.key;
    out.org = flags.org;
    out.repo = flags.repo;
}

}  // namespace wfq::cli
