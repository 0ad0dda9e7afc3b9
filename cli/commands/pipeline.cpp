#include "common.h"

#include <wfq/gzip.h>
#include <wfq/json_check.h>
#include <wfq/pipeline.h>
#include <wfq/state.h>
#include <wfq/text.h>

#include <cctype>
#include <filesystem>

namespace wfq::cli {
namespace {

struct CheckCmd {
    std::vector<std::string> files;
    bool json = false;
};

// Each file parses and every exec stage's command, resolved against the file's directory as a
// worker resolves it, exists and is executable (a bare name: on PATH). Every command problem of
// every file is reported (one "wfq: FILE:LINE: stages.N.exec.0: stage 'NAME': problem" line
// each), then exit 65.
int run_check(Context&, CheckCmd& o) {
    json out = json::array();
    bool bad = false;
    for (const auto& f : o.files) {
        Workflow w = load_workflow(f);  // throws bad_input with FILE:LINE: field: problem
        auto problems = stage_command_problems(w);
        for (const auto& p : problems) std::cerr << "wfq: " << p << "\n";
        if (!problems.empty()) {
            bad = true;
            continue;
        }
        json stages = json::array(), commands = json::object();
        for (const auto& s : w.stages) {
            stages.push_back(s.name);
            if (!s.exec.empty()) commands[s.name] = s.exec;
        }
        out.push_back({{"file", f}, {"type", w.type}, {"stages", stages}, {"dir", w.dir}, {"commands", commands}});
        if (!o.json) std::cout << f << ": ok (type " << w.type << ", " << count_of(static_cast<std::int64_t>(w.stages.size()), "stage") << ")\n";
    }
    if (bad) throw Error(ErrorCode::bad_input);  // each problem is reported above
    if (o.json) std::cout << out.dump() << "\n";
    return 0;
}

struct SignalCmd {
    std::string event, key, data = "null";
    std::string keep = "7d";
    bool json = false;
    CLI::App* app = nullptr;
};

struct SignalListCmd {
    bool json = false;
};

int run_signal_list(Context& ctx, SignalListCmd& o) {
    auto signals = ctx.store().stored_signals();
    if (o.json) {
        json out = json::array();
        for (const auto& s : signals) out.push_back(stored_signal_json(s));
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : signals)
        rows.push_back({std::to_string(s.id), s.event, s.key, format_time(s.created_at).substr(0, 19),
                        s.expires_at ? format_time(*s.expires_at).substr(0, 19) : "never", s.data.size() > 40 ? s.data.substr(0, 39) + "…" : s.data});
    print_table({"ID", "EVENT", "KEY", "STORED", "EXPIRES", "DATA"}, rows);
    return 0;
}

struct SignalClearCmd {
    std::string event;
    std::optional<std::string> key;
    bool json = false;
};

int run_signal_clear(Context& ctx, SignalClearCmd& o) {
    check_name("EVENT", o.event, 200);
    std::int64_t n = ctx.store().clear_signals(o.event, o.key);
    if (o.json) {
        std::cout << json{{"event", o.event}, {"key", o.key ? json(*o.key) : json(nullptr)}, {"cleared", n}}.dump() << "\n";
        return 0;
    }
    std::cerr << "cleared " << n << (n == 1 ? " stored signal" : " stored signals") << " of " << o.event
              << (o.key ? " key " + *o.key : std::string()) << "\n";
    if (n == 0) throw Error(ErrorCode::not_found);  // said above: cleared 0 stored signals
    return 0;
}

int run_signal(Context& ctx, SignalCmd& o) {
    if (o.event.empty()) throw Error(ErrorCode::usage, "signal needs EVENT --key KEY (or: signal list, signal clear EVENT)");
    if (o.key.empty() && o.app->count("--key") == 0) throw Error(ErrorCode::usage, "signal EVENT needs --key KEY");
    const std::int64_t keep = duration_flag("--keep", o.keep);
    if (keep < 0) throw Error(ErrorCode::usage, "--keep must not be negative");
    std::string data = prepare_signal(o.event, o.key, o.data == "-" ? read_input("-") : o.data);
    auto ids = ctx.store().signal(o.event, o.key, data, keep);
    if (o.json) {
        std::cout << json{{"event", o.event}, {"key", o.key}, {"resumed", ids}, {"stored", ids.empty()}}.dump() << "\n";
        return 0;
    }
    if (ids.empty())
        std::cerr << "no job waits for " << o.event << " key " << o.key << "; the signal is stored for the next wait"
                  << (keep > 0 ? " (for " + format_duration_ms(keep) + ": --keep; `wfq signal list` shows it)" : std::string())
                  << "\n";
    for (auto id : ids) std::cout << id << "\n";
    return 0;
}

struct InspectCmd {
    std::string target;
    std::optional<int> checkpoint;
    bool minimal = false, history = false, json = false;
};

bool is_job_id(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos && !std::filesystem::exists(s);
}

int run_inspect(Context& ctx, InspectCmd& o) {
    if (!is_job_id(o.target)) {
        // A file: a context or checkpoint blob, plain or gzip.
        std::string data = read_input(o.target);
        if (looks_gzipped(data)) data = gzip_decompress(data, kMaxJsonBytes);
        json doc = parse_bounded_json(data, o.target);
        std::cout << (o.minimal ? canonical(minimal_state(doc, {})) : (o.json ? canonical(doc) : doc.dump(2))) << "\n";
        return 0;
    }
    std::int64_t id = std::stoll(o.target);
    Store& store = ctx.store();
    if (!store.get_job(id)) throw Error(ErrorCode::not_found, "job " + o.target + " not found");
    auto checkpoints = store.load_checkpoints(id);
    if (o.history) {
        if (o.json) {
            json out = json::array();
            for (const auto& c : checkpoints) out.push_back(checkpoint_json(c));
            std::cout << out.dump() << "\n";
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& c : checkpoints)
            rows.push_back({std::to_string(c.seq), c.stage, c.kind + (c.gzipped ? "+gzip" : ""), std::to_string(c.raw_bytes),
                            std::to_string(c.stored_bytes)});
        print_table({"CHECKPOINT", "STAGE", "KIND", "RAW BYTES", "STORED BYTES"}, rows);
        return 0;
    }
    if (checkpoints.empty()) throw Error(ErrorCode::not_found, "job " + o.target + " has no checkpoints");
    int n = o.checkpoint.value_or(checkpoints.back().seq);
    if (n < 1 || n > static_cast<int>(checkpoints.size()))
        throw Error(ErrorCode::usage, "--checkpoint must be between 1 and " + std::to_string(checkpoints.size()));
    if (o.minimal) {
        std::cout << canonical(json::parse(checkpoints[static_cast<std::size_t>(n - 1)].summary)) << "\n";
        return 0;
    }
    std::vector<Checkpoint> upto(checkpoints.begin(), checkpoints.begin() + n);
    Json doc;
    try {
        doc = restore_context(upto);
    } catch (const Error& e) {
        throw Error(ErrorCode::bad_input, "job " + o.target + ": " + e.what());
    }
    std::cout << (o.json ? canonical(doc) : doc.dump(2)) << "\n";
    return 0;
}

}  // namespace

void add_pipeline_commands(CLI::App& app, Context& ctx, CLI::App& state_group) {
    auto* wf = app.add_subcommand("workflow", "Workflow files");
    wf->require_subcommand(1);
    // --help shows it, and man/wfq-workflow.1 as its DESCRIPTION (a blank line: a paragraph).
    wf->footer(
        "Stage paths. A stage command word with a slash (./stages/validate.sh, stages/x.py, ../bin/tool)\n"
        "is relative to the workflow file's directory, not to the worker's current directory, so a\n"
        "worker started anywhere (cron, systemd, another shell) runs the same files. An absolute path\n"
        "stays as written; a bare name (python3, jq) is looked up on the worker's PATH.\n"
        "\n"
        "An argument after the command word that names an existing file relative to the workflow\n"
        "file's directory is replaced by that file's path, so this stage runs the analyze.py that is\n"
        "beside the workflow file:\n"
        "\n"
        "    {\"name\": \"analyze\", \"exec\": [\"python3\", \"analyze.py\", \"--strict\"]}\n"
        "\n"
        "Other arguments (flags, text, paths not there when the file is loaded) are passed as\n"
        "written, and a relative one is then relative to the worker's current directory.\n"
        "\n"
        "{workflow_dir} in any word of exec is replaced by the workflow file's directory, for what the\n"
        "rules above do not cover: a directory, a file a stage creates, a path inside a shell command:\n"
        "\n"
        "    {\"name\": \"publish\", \"exec\": [\"sh\", \"-c\", \"{workflow_dir}/stages/publish.sh | gzip\"]}\n"
        "\n"
        "Paths are resolved when the file is loaded (wfq process --workflow, wfq workflow check); a\n"
        "symlinked workflow file resolves against the directory that holds the link.\n"
        "\n"
        "wfq workflow check also checks each stage's command as a worker would resolve it: it must exist,\n"
        "be a regular file and be executable (a bare name: an executable on PATH). Each problem is one\n"
        "line, FILE:LINE: stages.N.exec.0: stage 'NAME': problem, and check exits 65 after reporting\n"
        "them all. With --json it prints each file's directory and resolved commands.");
    auto c = std::make_shared<CheckCmd>();
    auto* check = wf->add_subcommand("check", "Validate workflow files and their stage commands (exit 65 naming the line and field)");
    check->add_option("files", c->files, "Workflow files")->required();
    check->add_flag("--json", c->json, "Print JSON");
    on_run(check, ctx, c, run_check);

    auto s = std::make_shared<SignalCmd>();
    auto* signal = app.add_subcommand("signal", "Resume jobs waiting for EVENT with KEY (or keep it for the next wait); "
                                                "signal list, signal clear EVENT");
    s->app = signal;
    signal->require_subcommand(0, 1);
    signal->add_option("event", s->event, "Event name (list and clear are the subcommands)");
    signal->add_option("--key", s->key, "Key the waiting job named");
    signal->add_option("--data", s->data, "JSON placed at /signals/EVENT in the context (- for stdin)");
    signal->add_option("--keep", s->keep, "Keep a signal no job waits for this long for the next wait (0: until cleared)")
        ->capture_default_str();
    signal->add_flag("--json", s->json, "Print JSON");
    auto sl = std::make_shared<SignalListCmd>();
    auto* slist = signal->add_subcommand("list", "Stored signals that no wait has consumed yet, oldest first");
    slist->add_flag("--json", sl->json, "Print a JSON array");
    on_run(slist, ctx, sl, run_signal_list);
    auto sc = std::make_shared<SignalClearCmd>();
    auto* sclear = signal->add_subcommand("clear", "Delete the stored signals of EVENT (and KEY)");
    sclear->add_option("event", sc->event, "Event name")->required();
    sclear->add_option("--key", sc->key, "Only this key");
    sclear->add_flag("--json", sc->json, "Print JSON");
    on_run(sclear, ctx, sc, run_signal_clear);
    // `signal EVENT --key K` itself, unless `signal list` or `signal clear` ran (their callbacks
    // come first and set the action).
    signal->callback([&ctx, s] {
        if (s->app->get_subcommands().empty()) ctx.action = [&ctx, s] { return run_signal(ctx, *s); };
    });

    auto i = std::make_shared<InspectCmd>();
    auto* inspect = state_group.add_subcommand("inspect", "A job's context at a checkpoint, its summary, or its checkpoint list");
    inspect->add_option("target", i->target, "Job id, or a context file (plain or gzip)")->required();
    inspect->add_option("--checkpoint", i->checkpoint, "Checkpoint number (default: the last)");
    inspect->add_flag("--minimal", i->minimal, "The minimal state (summary pointers and array counts)");
    inspect->add_flag("--history", i->history, "The checkpoint list: stage, kind, raw and stored bytes");
    inspect->add_flag("--json", i->json, "Print compact JSON");
    on_run(inspect, ctx, i, run_inspect);
}

}  // namespace wfq::cli
