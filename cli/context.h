#pragma once
// What every command shares: global options and the store, opened on first use.
#include <wfq/clock.h>
#include <wfq/store.h>
#include <wfq/trace.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace wfq::cli {

struct Context {
    std::string db_flag;
    std::string schema = "wfq";
    std::string pooler;  // --pooler (else WFQ_POOLER)
    std::string log_level = "info";
    std::string log_format = "text";
    std::vector<std::string> exec_command;  // the command: after `process --exec` or `--`, `bench stream --`
    std::string otlp_file;                  // --otlp-file, else WFQ_OTLP_FILE
    double trace_sample = 1.0;
    bool trace_sample_given = false;        // else OTEL_TRACES_SAMPLER / _ARG decide
    // The chosen command, set by its parser callback and run by main after parsing and
    // logging set-up; returns the exit code.
    std::function<int()> action;

    std::string db_url() const { return resolve_db_url(db_flag); }
    // Opens the store on first use; check_schema false for `migrate`.
    Store& store(bool check_schema = true);
    Clock& clock() { return SystemClock::instance(); }
    // Spans go to the OTLP file when one is set; flushed when the command ends.
    Tracer& tracer();
    Random& random() { return m_random; }

private:
    DefaultRandom m_random;
    std::unique_ptr<Store> m_store;
    std::unique_ptr<Tracer> m_tracer;
};

// One function per command group, each binding its flags to an options struct.
void add_migrate_command(CLI::App& app, Context& ctx);
void add_enqueue_command(CLI::App& app, Context& ctx);
void add_process_command(CLI::App& app, Context& ctx);
void add_jobs_command(CLI::App& app, Context& ctx);
void add_job_logs_command(CLI::App* jobs, Context& ctx);  // `jobs logs`, in job_logs.cpp
void add_workers_command(CLI::App& app, Context& ctx);
void add_backoff_command(CLI::App& app, Context& ctx);
void add_rescue_command(CLI::App& app, Context& ctx);
void add_lock_command(CLI::App& app, Context& ctx);
void add_bench_command(CLI::App& app, Context& ctx);
void add_state_command(CLI::App& app, Context& ctx);
void add_config_command(CLI::App& app, Context& ctx);
void add_cache_command(CLI::App& app, Context& ctx);
void add_observe_commands(CLI::App& app, Context& ctx);
void add_queues_command(CLI::App& app, Context& ctx);
void add_limits_command(CLI::App& app, Context& ctx);
void add_schedule_command(CLI::App& app, Context& ctx);
void add_top_command(CLI::App& app, Context& ctx);  // trace show, metrics, doctor, why
// workflow check, signal, and `state inspect` into the state group.
void add_pipeline_commands(CLI::App& app, Context& ctx, CLI::App& state_group);
// Hidden: `__complete WORDS...` for the shell completions, `__man [PAGE]` for the man pages.
void add_internal_commands(CLI::App& app, Context& ctx);
// `wfq __complete WORD... CUR`: prints the completions of CUR, one per line.
int run_completion(CLI::App& app, Context& ctx, const std::vector<std::string>& words);

}  // namespace wfq::cli
