#pragma once
// Bulk actions by filter: `wfq jobs retry|cancel|prune` (DESIGN.md "Operating the queue").
// Jobs are matched in id order and changed in batches, each compare-and-set on the state it was
// seen in, so a job that changed meanwhile is skipped, never clobbered.
#include <wfq/errors.h>
#include <wfq/operating.h>
#include <wfq/store.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wfq {

// The scope flags as given on the command line (`jobs list`, retry, cancel, prune).
struct ScopeRequest {
    std::vector<std::string> types, queues, error_classes, orgs, repos;
    std::string older_than, newer_than;  // durations ("" for none)
    // Running jobs whose handler has run longer than this ("" for none). retry takes running
    // jobs only with it: they are stopped on their worker and requeued.
    std::string running_longer_than;
};

// The scope checked: names (1 to 200 bytes, no control characters), known error classes and
// durations; Error(usage) naming the flag otherwise.
JobScope make_scope(const ScopeRequest& request);

// The filters as given on the command line; validated by make_bulk_filter.
struct BulkRequest {
    std::vector<std::int64_t> ids;
    std::vector<std::string> states;
    ScopeRequest scope;
    int batch_size = 500;
    bool dry_run = false;
};

// Checks the filters for action and fills in its default states (retry: failed; cancel:
// pending, waiting, running; prune: completed, failed, cancelled). Throws Error(usage) for an
// unknown state, a state the action never touches, a malformed duration or a bad batch size.
BulkFilter make_bulk_filter(BulkAction action, const BulkRequest& request);

// The error classes wfq writes (DESIGN.md, wfq-jobs(1)): exit_code, timeout, crash, ...
const std::vector<std::string>& known_error_classes();
// Throws Error(usage) naming flag and listing the known classes when one of classes is unknown.
void check_error_classes(const char* flag, const std::vector<std::string>& classes);
// The queues of names that the queue does not know: no job, pause or live worker names them
// (a typo such as `mial`). Callers warn, or refuse with --strict.
std::vector<std::string> unknown_queues(Store& store, const std::vector<std::string>& names);
// "--running-longer-than: ..." parsed and checked (Error(usage) when malformed or negative).
std::int64_t duration_filter(const char* flag, const std::string& text);

// True when the request names anything besides ids (a filter, or a dry run).
bool has_filters(const BulkRequest& request);

struct BulkResult {
    std::int64_t matched = 0, changed = 0;
    std::vector<std::int64_t> first_ids;  // up to 10 of the matching jobs (dry run)
    bool dry_run = false;
    bool declined = false;  // the operator answered no
};

struct BulkCallbacks {
    // Asked before changing more than confirm_above jobs; false declines. Null: never asked.
    std::function<bool(std::int64_t matched)> confirm;
    std::int64_t confirm_above = 1000;
    std::function<void(std::int64_t changed)> progress;
};

// Runs action over the jobs the request matches (or only counts them: dry_run).
BulkResult run_bulk_action(Store& store, BulkAction action, const BulkRequest& request, const std::string& actor,
                           const BulkCallbacks& callbacks = {});

// One job by id, as `wfq jobs retry|cancel ID` does without filters: done, not found, or not in
// a state the action takes (retry: not running; cancel: pending, waiting or running).
AdminResult act_on_job(Store& store, BulkAction action, std::int64_t id, const std::string& actor);

// What act_on_jobs did to one job.
struct JobActionResult {
    std::int64_t id = 0;
    AdminResult result = AdminResult::done;
    std::optional<JobState> state;  // wrong_state: the state that kept the job (nullopt: it is gone)
};

// `wfq jobs retry|cancel ID...` without filters: act_on_job on each id in turn.
std::vector<JobActionResult> act_on_jobs(Store& store, BulkAction action, const std::vector<std::int64_t>& ids,
                                         const std::string& actor);
// The error the command exits with: none when every job was acted on; not_found (exit 4) when
// its only id named no job; failure (exit 1) when a job was in the wrong state, or when one of
// several ids named no job (the others may have been acted on).
std::optional<ErrorCode> act_on_jobs_error(const std::vector<JobActionResult>& results);

// Who is acting, for timelines: "user@host".
std::string operator_name();

}  // namespace wfq
