#pragma once
// What every command shares: global options and the store, opened on first use.
#include <wfq/clock.h>
#include <wfq/store.h>

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
    std::string log_level = "info";
    std::string log_format = "text";
    std::vector<std::string> exec_command;  // everything after `process --exec`
    // The chosen command, set by its parser callback and run by main after parsing and
    // logging set-up; returns the exit code.
    std::function<int()> action;

    std::string db_url() const { return resolve_db_url(db_flag); }
    // Opens the store on first use; check_schema false for `migrate`.
    Store& store(bool check_schema = true);
    Clock& clock() { return SystemClock::instance(); }
    Random& random() { return m_random; }

private:
    std::unique_ptr<Store> m_store;
    DefaultRandom m_random;
};

// One function per command group, each binding its flags to an options struct.
void add_migrate_command(CLI::App& app, Context& ctx);
void add_enqueue_command(CLI::App& app, Context& ctx);
void add_process_command(CLI::App& app, Context& ctx);
void add_jobs_command(CLI::App& app, Context& ctx);
void add_workers_command(CLI::App& app, Context& ctx);
void add_backoff_command(CLI::App& app, Context& ctx);
void add_rescue_command(CLI::App& app, Context& ctx);
void add_lock_command(CLI::App& app, Context& ctx);
void add_bench_command(CLI::App& app, Context& ctx);
void add_state_command(CLI::App& app, Context& ctx);
void add_config_command(CLI::App& app, Context& ctx);
void add_cache_command(CLI::App& app, Context& ctx);
// Hidden: `__complete WORDS...` for the shell completions, `__man [PAGE]` for the man pages.
void add_internal_commands(CLI::App& app, Context& ctx);
// `wfq __complete WORD... CUR`: prints the completions of CUR, one per line.
int run_completion(CLI::App& app, Context& ctx, const std::vector<std::string>& words);

}  // namespace wfq::cli
