// The wfq binary: a table of commands over libqueue. This is the one place that maps
// errors to exit codes.
#include "context.h"

#include <wfq/errors.h>
#include <wfq/log.h>

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstring>
#include <iostream>

#ifndef WFQ_VERSION
#define WFQ_VERSION "0.0.0"
#endif
#ifndef WFQ_GIT_REVISION
#define WFQ_GIT_REVISION "unknown"
#endif

namespace wfq::cli {

Store& Context::store(bool check_schema) {
    if (!m_store) {
        StoreOptions options;
        options.url = db_url();
        options.schema = schema;
        options.check_schema = check_schema;
        options.pooler = resolve_pooler(pooler);
        options.clock = test_clock_from_environment();  // null (the system clock) unless a test sets it
        m_store = open_store(options);
    }
    return *m_store;
}

Tracer& Context::tracer() {
    if (!m_tracer) {
        TracerOptions options;
        options.otlp_file = otlp_file;
        if (options.otlp_file.empty())
            if (const char* f = std::getenv("WFQ_OTLP_FILE"); f && *f) options.otlp_file = f;
        options.sample_ratio = trace_sample;
        m_tracer = std::make_unique<Tracer>(options, m_random);
    }
    return *m_tracer;
}

}  // namespace wfq::cli

namespace {

// `process --exec CMD ARG...`: everything after --exec is the handler command, so its own
// flags (sh -c ...) never reach our parser.
std::vector<std::string> split_exec(int argc, char** argv, std::vector<std::string>& exec_command) {
    std::vector<std::string> args;
    bool in_process = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "process") in_process = true;
        if (in_process && a == "--exec") {
            int j = i + 1;
            if (j < argc && std::string(argv[j]) == "--") ++j;
            for (; j < argc; ++j) exec_command.emplace_back(argv[j]);
            args.emplace_back("--exec");  // keep the flag so the parser knows it was given
            break;
        }
        args.push_back(std::move(a));
    }
    return args;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    wfq::cli::Context ctx;
    if (const char* s = std::getenv("WFQ_SCHEMA"); s && *s) ctx.schema = s;

    CLI::App app{"wfq: operate a workflow job queue (enqueue, process, inspect, retry, lock).", "wfq"};
    app.fallthrough(true);
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("wfq ") + WFQ_VERSION + " (git " + WFQ_GIT_REVISION + ")");
    app.add_option("--db", ctx.db_flag, "Database URL: sqlite:PATH, postgresql://..., or libpq keywords (else WFQ_DB, DATABASE_URL)");
    app.add_option("--schema", ctx.schema, "PostgreSQL schema holding this queue (else WFQ_SCHEMA, default wfq)");
    app.add_option("--pooler", ctx.pooler, "none, or transaction: a transaction-pooling PgBouncer is in front (else WFQ_POOLER)");
    app.add_option("--log-level", ctx.log_level, "trace, debug, info, warn, error, off")->capture_default_str();
    app.add_option("--log-format", ctx.log_format, "text or json")->capture_default_str();
    app.add_option("--otlp-file", ctx.otlp_file, "Append spans as OTLP/JSON lines to this file (else WFQ_OTLP_FILE)");
    app.add_option("--trace-sample", ctx.trace_sample, "Share of new traces recorded, 0 to 1 (children follow their parent)")
        ->capture_default_str();

    wfq::cli::add_migrate_command(app, ctx);
    wfq::cli::add_enqueue_command(app, ctx);
    wfq::cli::add_process_command(app, ctx);
    wfq::cli::add_jobs_command(app, ctx);
    wfq::cli::add_workers_command(app, ctx);
    wfq::cli::add_queues_command(app, ctx);
    wfq::cli::add_schedule_command(app, ctx);
    wfq::cli::add_top_command(app, ctx);
    wfq::cli::add_rescue_command(app, ctx);
    wfq::cli::add_lock_command(app, ctx);
    wfq::cli::add_config_command(app, ctx);
    wfq::cli::add_cache_command(app, ctx);
    wfq::cli::add_observe_commands(app, ctx);
    wfq::cli::add_state_command(app, ctx);
    wfq::cli::add_backoff_command(app, ctx);
    wfq::cli::add_bench_command(app, ctx);
    wfq::cli::add_internal_commands(app, ctx);

    if (argc >= 2 && std::string(argv[1]) == "__complete") {
        std::vector<std::string> words(argv + 2, argv + argc);
        if (!words.empty() && words[0] == "--") words.erase(words.begin());
        return wfq::cli::run_completion(app, ctx, words);
    }
    std::vector<std::string> args = split_exec(argc, argv, ctx.exec_command);
    std::vector<const char*> cargs{argv[0]};
    for (const auto& a : args) cargs.push_back(a.c_str());

    try {
        try {
            app.parse(static_cast<int>(cargs.size()), const_cast<char**>(cargs.data()));
        } catch (const CLI::ParseError& e) {
            int code = app.exit(e);
            return code == 0 ? 0 : 2;
        }
        wfq::log::configure(ctx.log_level, ctx.log_format);
        return ctx.action ? ctx.action() : 0;
    } catch (const wfq::Error& e) {
        std::cerr << "wfq: " << e.what() << "\n";
        return wfq::exit_code_for(e.code());
    } catch (const std::exception& e) {
        std::cerr << "wfq: " << e.what() << "\n";
        return 1;
    }
}
