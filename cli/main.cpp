// The wfq binary: a table of commands over libqueue. This is the one place that maps
// errors to exit codes.
#include "context.h"

#include <wfq/errors.h>
#include <wfq/log.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <iostream>
#include <set>
#include <string>
#include <vector>

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
        // The standard OpenTelemetry variables: the collector, the resource, the sampler
        // (--trace-sample, when given, is the ratio of new traces instead).
        TelemetrySettings env = telemetry_from_environment([](const char* name) { return std::getenv(name); });
        options.otlp = env.otlp;
        options.service_name = env.service_name;
        options.resource_attributes = env.resource_attributes;
        if (env.sample_ratio && !trace_sample_given) {
            options.sample_ratio = *env.sample_ratio;
            options.parent_based = env.parent_based;
        }
        m_tracer = std::make_unique<Tracer>(options, m_random);
    }
    return *m_tracer;
}

}  // namespace wfq::cli

namespace {

// The long flags of app and of the top level (which fall through to subcommands), without "--".
std::set<std::string> long_flags(const CLI::App& top, const CLI::App& sub, std::set<std::string>* taking_values = nullptr) {
    std::set<std::string> out;
    for (const CLI::App* a : {&top, &sub})
        for (const CLI::Option* opt : a->get_options())
            for (const auto& name : opt->get_lnames()) {
                out.insert(name);
                if (taking_values && opt->get_items_expected_min() > 0) taking_values->insert(name);
            }
    return out;
}

// A word of the command that is one of wfq's own flags is a usage error: it was surely meant
// for wfq (DESIGN.md, "The command after the flags").
void refuse_own_flags(const std::vector<std::string>& command, const std::set<std::string>& flags, const std::string& intro) {
    for (const auto& w : command) {
        if (w.size() < 3 || w.compare(0, 2, "--") != 0) continue;
        std::string name = w.substr(2, w.find('=') == std::string::npos ? std::string::npos : w.find('=') - 2);
        if (flags.count(name))
            throw wfq::Error(wfq::ErrorCode::usage,
                             "--" + name + " after " + intro + " is one of wfq's own flags and would be handed to the command; put "
                             "wfq's flags before " + intro + ", or write `-- CMD ARG...` if the command really takes --" + name);
    }
}

// The command after the flags: `process [flags] --exec CMD [ARG...]` or `process [flags] -- CMD
// [ARG...]` (the same), `lock run KEY [flags] [--] CMD [ARG...]`, and `bench stream -- CMD [ARG...]`.
// Everything from the command on is the command's, so its own flags never reach our parser; after --exec (or a lock run
// command given without --), a word that is one of wfq's long flags is a usage error; after --
// nothing is checked.
std::vector<std::string> split_command(int argc, char** argv, const CLI::App& app, std::vector<std::string>& exec_command) {
    std::vector<std::string> args;
    enum class In { top, process, lock, lock_run, bench } in = In::top;
    int positionals = 0;  // lock run: KEY, then the command
    std::set<std::string> taking_values;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (in == In::top && a == "process") in = In::process;
        else if (in == In::top && a == "lock") in = In::lock;
        else if (in == In::top && a == "bench") in = In::bench;
        else if (in == In::bench && a == "--") {  // `bench stream -- CMD ARG...`: the handler
            exec_command.assign(argv + i + 1, argv + argc);
            return args;
        }
        else if (in == In::lock && a == "run") {
            in = In::lock_run;
            long_flags(app, *app.get_subcommand("lock")->get_subcommand("run"), &taking_values);
        } else if (in == In::process && (a == "--exec" || a == "--")) {
            int j = i + 1;
            bool checked = a == "--exec";
            if (checked && j < argc && std::string(argv[j]) == "--") {
                ++j;
                checked = false;
            }
            for (; j < argc; ++j) exec_command.emplace_back(argv[j]);
            if (checked) refuse_own_flags(exec_command, long_flags(app, *app.get_subcommand("process")), "--exec");
            args.emplace_back("--exec");  // keep the flag so the parser knows a command was given
            return args;
        } else if (in == In::lock_run) {
            if (a == "--") {
                for (int j = i; j < argc; ++j) args.emplace_back(argv[j]);
                return args;
            }
            if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
                // One of run's flags (and its value), or an unknown flag the parser will refuse.
                args.push_back(a);
                if (a.find('=') == std::string::npos && taking_values.count(a.substr(2)) && i + 1 < argc) args.emplace_back(argv[++i]);
                continue;
            }
            if (!a.empty() && a[0] != '-' && ++positionals == 2) {
                std::vector<std::string> command(argv + i, argv + argc);
                refuse_own_flags(command, long_flags(app, *app.get_subcommand("lock")->get_subcommand("run")), "the command");
                args.emplace_back("--");
                args.insert(args.end(), command.begin(), command.end());
                return args;
            }
        }
        args.push_back(std::move(a));
    }
    return args;
}

// ---- usage errors ------------------------------------------------------------------------

// Edit distance (insert, delete, replace, swap of neighbours) between two words.
std::size_t distance(const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

// The candidates nearest to word: those it begins (--prio: --priority) if any, else those within
// a third of its length in edits (at least 1, at most 3); none when nothing is that close.
std::vector<std::string> nearest(const std::string& word, const std::vector<std::string>& candidates) {
    std::vector<std::string> prefixed, close;
    std::size_t best = std::min<std::size_t>(3, std::max<std::size_t>(1, word.size() / 3)) + 1;
    for (const auto& c : candidates) {
        if (c == word) continue;
        if (word.size() >= 2 && c.compare(0, word.size(), word) == 0) prefixed.push_back(c);
        std::size_t d = distance(word, c);
        if (d < best) {
            best = d;
            close.clear();
        }
        if (d == best) close.push_back(c);
    }
    std::vector<std::string>& out = prefixed.empty() ? close : prefixed;
    if (out.size() > 3) out.resize(3);
    return out;
}

// "a", "a or b", "a, b or c" (with "and": "a, b and c").
std::string one_of(const std::vector<std::string>& words, const char* last = " or ") {
    std::string s;
    for (std::size_t i = 0; i < words.size(); ++i) s += (i == 0 ? "" : i + 1 == words.size() ? last : ", ") + words[i];
    return s;
}

std::vector<CLI::App*> commands_of(CLI::App* app) {
    return app->get_subcommands([](CLI::App* s) { return !s->get_group().empty() && s->get_name().rfind("__", 0) != 0; });
}

std::string path_of(const CLI::App* app) {
    std::string path;
    for (; app; app = app->get_parent()) path = app->get_name() + (path.empty() ? "" : " " + path);
    return path;
}

// Why the command line did not parse, when the cause is a word wfq does not know: an unknown flag
// (of the command or, since flags fall through, of the commands above it) or an unknown command
// where one is required, with the nearest known one; *where is the command it was given to.
// Empty when every word is known.
std::string unknown_word(CLI::App& root, const std::vector<std::string>& args, const CLI::App** where) {
    CLI::App* app = &root;
    *where = app;
    std::size_t positionals = 0;
    auto find_flag = [&](const std::string& word) -> const CLI::Option* {
        for (CLI::App* a = app; a; a = a->get_parent())
            for (const CLI::Option* o : a->get_options([](const CLI::Option* o) { return o->nonpositional(); })) {
                for (const auto& l : o->get_lnames())
                    if (word == "--" + l) return o;
                for (const auto& sn : o->get_snames())
                    if (word == "-" + sn) return o;
            }
        return nullptr;
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") break;  // the rest belongs to a command (lock run)
        if (a.size() > 1 && a[0] == '-') {
            std::string name = a.substr(0, a.find('='));
            if (name == "--help" || name == "-h" || (app == &root && name == "--version")) continue;
            if (const CLI::Option* o = find_flag(name)) {
                if (o->get_items_expected_max() > 0 && a.find('=') == std::string::npos && name.size() > 2 && name[1] == '-') ++i;
                continue;
            }
            std::vector<std::string> known{"--help"};
            for (CLI::App* p = app; p; p = p->get_parent())
                for (const CLI::Option* o : p->get_options([](const CLI::Option* o) { return o->nonpositional(); }))
                    for (const auto& l : o->get_lnames()) known.push_back("--" + l);
            std::vector<std::string> near = nearest(name, known);
            return "unknown flag " + name + (near.empty() ? "" : "; did you mean " + one_of(near) + "?");
        }
        CLI::App* sub = nullptr;
        if (positionals == 0)
            for (CLI::App* c : commands_of(app))
                if (c->get_name() == a) sub = c;
        if (sub) {
            *where = app = sub;
            continue;
        }
        if (positionals++ == 0 && app->get_require_subcommand_min() > 0) {
            std::vector<std::string> names;
            for (CLI::App* c : commands_of(app)) names.push_back(c->get_name());
            std::vector<std::string> near = nearest(a, names);
            std::string here = app == &root ? "" : path_of(app).substr(root.get_name().size() + 1) + " ";
            for (auto& n : near) n = "'" + here + n + "'";
            return "unknown command '" + here + a + "'" +
                   (near.empty() ? "; the commands of " + path_of(app) + " are " + one_of(names, " and ")
                                 : "; did you mean " + one_of(near) + "?");
        }
    }
    if (app->get_require_subcommand_min() > 0 && positionals == 0) {
        std::vector<std::string> names;
        for (CLI::App* c : commands_of(app)) names.push_back(c->get_name());
        return (app == &root ? std::string("a command is needed") : app->get_name() + " needs a command") + ": " + one_of(names);
    }
    return "";
}

// The deepest command the parser reached (for "see wfq X --help").
const CLI::App* parsed_command(const CLI::App& root) {
    const CLI::App* app = &root;
    for (;;) {
        auto subs = app->get_subcommands();
        if (subs.empty()) return app;
        app = subs.front();
    }
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
    CLI::Option* trace_sample = app.add_option("--trace-sample", ctx.trace_sample,
                                               "Share of new traces recorded, 0 to 1 (children follow their parent; else OTEL_TRACES_SAMPLER)")
                                    ->capture_default_str();

    wfq::cli::add_migrate_command(app, ctx);
    wfq::cli::add_enqueue_command(app, ctx);
    wfq::cli::add_process_command(app, ctx);
    wfq::cli::add_jobs_command(app, ctx);
    wfq::cli::add_workers_command(app, ctx);
    wfq::cli::add_queues_command(app, ctx);
    wfq::cli::add_limits_command(app, ctx);
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
    try {
        std::vector<std::string> args = split_command(argc, argv, app, ctx.exec_command);
        std::vector<const char*> cargs{argv[0]};
        for (const auto& a : args) cargs.push_back(a.c_str());
        try {
            app.parse(static_cast<int>(cargs.size()), const_cast<char**>(cargs.data()));
        } catch (const CLI::Success& e) {
            return app.exit(e);  // --help, --version
        } catch (const CLI::ParseError& e) {
            // A usage error, said the way every other wfq message is: an unknown word with the
            // nearest known one, else the parser's own words; exit 2.
            const CLI::App* where = nullptr;
            std::string why = unknown_word(app, args, &where);
            if (why.empty()) {
                why = e.what();
                where = parsed_command(app);
            }
            std::cerr << "wfq: " << why << " (see " << path_of(where) << " --help)\n";
            return wfq::exit_code_for(wfq::ErrorCode::usage);
        }
        wfq::log::configure(ctx.log_level, ctx.log_format);
        ctx.trace_sample_given = trace_sample->count() > 0;
        return ctx.action ? ctx.action() : 0;
    } catch (const wfq::Error& e) {
        if (*e.what()) std::cerr << "wfq: " << e.what() << "\n";  // empty: the command has said it
        return wfq::exit_code_for(e.code());
    } catch (const std::exception& e) {
        std::cerr << "wfq: " << e.what() << "\n";
        return wfq::exit_code_for(wfq::ErrorCode::failure);
    }
}
