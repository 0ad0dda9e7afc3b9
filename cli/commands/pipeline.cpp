#include "common.h"

#include <wfq/gzip.h>
#include <wfq/pipeline.h>
#include <wfq/state.h>

#include <cctype>
#include <filesystem>

namespace wfq::cli {
namespace {

struct CheckCmd {
    std::vector<std::string> files;
    bool json = false;
};

int run_check(Context&, CheckCmd& o) {
    json out = json::array();
    for (const auto& f : o.files) {
        Workflow w = load_workflow(f);  // throws bad_input with FILE:LINE: field: problem
        json stages = json::array();
        for (const auto& s : w.stages) stages.push_back(s.name);
        out.push_back({{"file", f}, {"type", w.type}, {"stages", stages}});
        if (!o.json) std::cout << f << ": ok (type " << w.type << ", " << w.stages.size() << " stages)\n";
    }
    if (o.json) std::cout << out.dump() << "\n";
    return 0;
}

struct SignalCmd {
    std::string event, key, data = "null";
    bool json = false;
};

int run_signal(Context& ctx, SignalCmd& o) {
    std::string data = prepare_signal(o.event, o.key, o.data == "-" ? read_input("-") : o.data);
    auto ids = ctx.store().signal(o.event, o.key, data);
    if (o.json) {
        std::cout << json{{"event", o.event}, {"key", o.key}, {"resumed", ids}, {"stored", ids.empty()}}.dump() << "\n";
        return 0;
    }
    if (ids.empty()) std::cerr << "no job waits for " << o.event << " key " << o.key << "; the signal is stored for the next wait\n";
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
        if (looks_gzipped(data)) data = gzip_decompress(data);
        json doc;
        try {
            doc = json::parse(data);
        } catch (const json::parse_error& e) {
            throw Error(ErrorCode::bad_input, o.target + " is not JSON: " + e.what());
        }
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
            for (const auto& c : checkpoints)
                out.push_back({{"checkpoint", c.seq}, {"stage", c.stage}, {"kind", c.kind}, {"gzip", c.gzipped},
                               {"raw_bytes", c.raw_bytes}, {"stored_bytes", c.stored_bytes}, {"summary", json::parse(c.summary)}});
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
    auto c = std::make_shared<CheckCmd>();
    auto* check = wf->add_subcommand("check", "Validate workflow files (exit 65 naming the line and field)");
    check->add_option("files", c->files, "Workflow files")->required();
    check->add_flag("--json", c->json, "Print JSON");
    on_run(check, ctx, c, run_check);

    auto s = std::make_shared<SignalCmd>();
    auto* signal = app.add_subcommand("signal", "Resume jobs waiting for EVENT with KEY (or keep it for the next wait)");
    signal->add_option("event", s->event, "Event name")->required();
    signal->add_option("--key", s->key, "Key the waiting job named")->required();
    signal->add_option("--data", s->data, "JSON placed at /signals/EVENT in the context (- for stdin)");
    signal->add_flag("--json", s->json, "Print JSON");
    on_run(signal, ctx, s, run_signal);

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
