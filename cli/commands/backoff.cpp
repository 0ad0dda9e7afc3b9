#include "common.h"

#include <wfq/backoff.h>

namespace wfq::cli {
namespace {

struct PreviewOptions {
    std::string preset;
    std::optional<std::string> base, max;
    std::optional<double> multiplier, jitter;
    int attempts = 5;
    std::optional<std::uint64_t> seed;
    bool no_jitter = false;
    bool json = false;
};

int run_preview(Context&, PreviewOptions& o) {
    BackoffPolicy policy = *backoff_preset("STANDARD");
    if (!o.preset.empty()) {
        auto p = backoff_preset(o.preset);
        if (!p) {
            std::string names;
            for (const auto& n : backoff_preset_names()) names += (names.empty() ? "" : ", ") + n;
            throw Error(ErrorCode::usage, "unknown preset '" + o.preset + "' (" + names + ")");
        }
        policy = *p;
    }
    if (o.base) policy.base_ms = duration_flag("--base", *o.base);
    if (o.max) policy.max_ms = duration_flag("--max", *o.max);
    if (o.multiplier) policy.multiplier = *o.multiplier;
    if (o.jitter) policy.jitter = *o.jitter;
    if (o.no_jitter) policy.jitter = 0;
    policy.validate();
    if (o.attempts < 1 || o.attempts > 100) throw Error(ErrorCode::usage, "--attempts must be between 1 and 100");
    std::unique_ptr<DefaultRandom> random;
    if (o.seed) random = std::make_unique<DefaultRandom>(*o.seed);
    auto steps = backoff_schedule(policy, o.attempts, random.get());
    if (o.json) {
        json out = json::array();
        for (const auto& s : steps) out.push_back(backoff_step_json(s));
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::vector<std::string> headers{"RETRY", "DELAY", "MIN", "MAX"};
    if (random) headers.push_back("SAMPLE");
    std::vector<std::vector<std::string>> rows;
    std::int64_t total = 0;
    for (const auto& s : steps) {
        std::vector<std::string> r{std::to_string(s.retry), format_duration_ms(s.delay_ms), format_duration_ms(s.min_ms),
                                   format_duration_ms(s.max_ms)};
        if (s.sample_ms) r.push_back(format_duration_ms(*s.sample_ms));
        total += s.delay_ms;
        rows.push_back(r);
    }
    print_table(headers, rows);
    std::cout << "total (un-jittered): " << format_duration_ms(total) << "\n";
    return 0;
}

}  // namespace

void add_backoff_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("backoff", "Retry backoff schedules");
    group->require_subcommand(1);
    auto o = std::make_shared<PreviewOptions>();
    auto* sub = group->add_subcommand("preview", "Print the delays a retry policy produces");
    sub->add_option("--preset", o->preset, "FAST, STANDARD, AGGRESSIVE, CONSERVATIVE, LINEAR, HEAVY_TASK (any case)");
    sub->add_option("--base", o->base, "Base delay (duration, e.g. 1s)");
    sub->add_option("--max", o->max, "Maximum delay (duration)");
    sub->add_option("--multiplier", o->multiplier, "Growth factor (1 = linear)");
    sub->add_option("--jitter", o->jitter, "Jitter factor, 0 to 1");
    sub->add_option("--attempts", o->attempts, "How many retries to show")->capture_default_str();
    sub->add_option("--seed", o->seed, "Seed for a reproducible jittered sample");
    sub->add_flag("--no-jitter", o->no_jitter, "Set jitter to 0");
    sub->add_flag("--json", o->json, "Print JSON");
    on_run(sub, ctx, o, run_preview);
}

}  // namespace wfq::cli
