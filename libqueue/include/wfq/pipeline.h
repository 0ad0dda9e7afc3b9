#pragma once
// Workflow files and the pipeline handler: stages run in order over a JSON context that is
// checkpointed after each stage (delta or snapshot, gzip), resumed after a retry or crash at
// the first stage without a checkpoint, and parked while a stage waits for an event.
#include <wfq/clock.h>
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
    std::vector<std::string> exec;  // a command (paths resolved by load_workflow), or
    std::string builtin;            // "resolve_config"
    std::int64_t timeout_ms = 0;    // 0: the workflow's timeout
    std::vector<std::string> exec_as_written;  // exec as the file gives it, for messages
    int exec_line = 0;                         // the line of exec's first word in the file
};

struct Workflow {
    std::string type, path;
    std::string dir;  // the file's directory (absolute) when loaded from a file; stage paths resolve against it
    JobPolicy policy;
    std::int64_t timeout_ms = 0;
    std::string lock_key;               // template, e.g. "pr:{payload.repository.id}"
    std::vector<std::string> limits;    // limit key templates (flow control), e.g. "org:{job.org}"
    std::string config_org, config_repo;  // templates
    StateOptions state;
    std::vector<StageSpec> stages;
};

// Parses and validates a workflow file. Error(bad_input) "PATH:LINE: FIELD: problem".
// load_workflow also resolves the stage commands against the file's directory (see
// resolve_stage_paths), so that a worker finds them whatever its current directory is.
Workflow load_workflow(const std::string& path);
Workflow parse_workflow(const std::string& text, const std::string& name);

// Resolves the exec stages' words against DIR (absolute), as load_workflow does with the file's
// directory: {workflow_dir} in any word becomes DIR; a relative command word with a slash
// (./stages/validate.sh, stages/x.py) becomes DIR/word, a bare name (python3) stays for the PATH
// lookup; a relative argument that names an existing regular file in DIR (analyze.py in
// ["python3", "analyze.py"]) becomes DIR/word, other arguments (flags, text, paths not there)
// stay as written. Sets w.dir.
void resolve_stage_paths(Workflow& w, const std::string& dir);

// What keeps the exec stages' commands (as resolved) from running: a path that does not exist,
// is not a regular file or is not executable, a bare name not found as an executable on PATH.
// One message per problem, "PATH:LINE: stages.N.exec.0: stage 'NAME': problem"; empty when all run.
std::vector<std::string> stage_command_problems(const Workflow& w);

// Expands {payload.a.b}, {job.id}, {job.type}, {job.org}, {job.repo}, {job.queue} in a template;
// Error(bad_input) naming a field the job does not have.
std::string expand_template(const std::string& tmpl, const Job& job);
// Why tmpl is not a template expand_template can read (an unclosed {, an unknown field), if so.
std::optional<std::string> template_problem(const std::string& tmpl);

// Checks a signal before it is stored (`wfq signal EVENT --key K --data JSON`, and a stage's
// $wait): EVENT a name of at most 200 bytes, K empty or a name of at most 1000 (Error(usage));
// data a document the queue can store (Error(bad_input), see json_check.h). Returns the data
// as stored, compact.
std::string prepare_signal(const std::string& event, const std::string& key, const std::string& data);
// What is wrong with a signal key (empty is fine: no key), as prepare_signal and $wait say it.
std::optional<std::string> signal_key_problem(const std::string& key);

// Sets a worker up for these workflows: each type gets the workflow's retry policy over the
// worker's own (options.policy), the worker serves the workflows' types when options.types is
// empty, and a job's config scope comes from the workflow's org/repo templates (falling back to
// the job's own org and repo). Error(usage) when two files define one type.
void apply_workflows(WorkerOptions& options, const std::vector<Workflow>& workflows);

// Runs jobs of the workflows' types. Stage commands follow the handler contract (context on
// stdin, new context on stdout) with WFQ_STAGE set; a context with a top-level "$wait":
// {"event", "key", "timeout"} parks the job until `wfq signal`.
// Stage timeouts (and the workflow's) and stage durations are measured on clock.
std::unique_ptr<Handler> make_pipeline_handler(Store& store, std::vector<Workflow> workflows, ExecHandlerOptions base,
                                               Tracer* tracer, Clock& clock = SystemClock::instance());

}  // namespace wfq
