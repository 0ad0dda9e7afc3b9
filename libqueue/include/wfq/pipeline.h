#pragma once
// Workflow files and the pipeline handler: stages run in order over a JSON context that is
// checkpointed after each stage (delta or snapshot, gzip), resumed after a retry or crash at
// the first stage without a checkpoint, and parked while a stage waits for an event.
#include <wfq/queue.h>
#include <wfq/state.h>
#include <wfq/worker.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wfq {

struct StageSpec {
    std::string name;
    std::vector<std::string> exec;  // a command, or
    std::string builtin;            // "resolve_config"
    std::int64_t timeout_ms = 0;    // 0: the workflow's timeout
};

struct Workflow {
    std::string type, path;
    JobPolicy policy;
    std::int64_t timeout_ms = 0;
    std::string lock_key;               // template, e.g. "pr:{payload.repository.id}"
    std::string config_org, config_repo;  // templates
    StateOptions state;
    std::vector<StageSpec> stages;
};

// Parses and validates a workflow file. Error(bad_input) "PATH:LINE: FIELD: problem".
Workflow load_workflow(const std::string& path);
Workflow parse_workflow(const std::string& text, const std::string& name);

// Expands {payload.a.b}, {job.id}, {job.type}, {job.org}, {job.repo}, {job.queue} in a template;
// Error(bad_input) naming a field the job does not have.
std::string expand_template(const std::string& tmpl, const Job& job);

// Checks a signal before it is stored (`wfq signal EVENT --key K --data JSON`, and a stage's
// $wait): EVENT a name of at most 200 bytes, K empty or a name of at most 1000 (Error(usage));
// data a document the queue can store (Error(bad_input), see json_check.h). Returns the data
// as stored, compact.
std::string prepare_signal(const std::string& event, const std::string& key, const std::string& data);

// Runs jobs of the workflows' types. Stage commands follow the handler contract (context on
// stdin, new context on stdout) with WFQ_STAGE set; a context with a top-level "$wait":
// {"event", "key", "timeout"} parks the job until `wfq signal`.
// Sets a worker up for these workflows: each type gets the workflow's retry policy over the
// worker's own (options.policy), the worker serves the workflows' types when options.types is
// empty, and a job's config scope comes from the workflow's org/repo templates (falling back to
// the job's own org and repo). Error(usage) when two files define one type.
void apply_workflows(WorkerOptions& options, const std::vector<Workflow>& workflows);

std::unique_ptr<Handler> make_pipeline_handler(Store& store, std::vector<Workflow> workflows, ExecHandlerOptions base,
                                               Tracer* tracer);

}  // namespace wfq
