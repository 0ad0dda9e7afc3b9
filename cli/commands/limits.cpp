// `wfq limits set|list|remove`: flow-control rules, stored in the database.
#include "common.h"

#include <wfq/limits.h>

#include <cmath>
#include <sstream>

namespace wfq::cli {
namespace {

struct SetOptions {
    LimitRuleFlags flags;
    bool json = false;
};

struct ListOptions {
    bool json = false;
};

struct RemoveOptions {
    std::string pattern;
    bool json = false;
};

int run_set(Context& ctx, SetOptions& o) {
    LimitRule rule = parse_limit_rule(o.flags);
    ctx.store().limit_set(rule);
    if (o.json) {
        std::cout << limit_rule_json(rule).dump() << "\n";
        return 0;
    }
    std::cerr << "rule " << rule.pattern << " set\n";
    return 0;
}

std::string tokens_text(double t) {
    std::ostringstream s;
    s.precision(t < 10 ? 2 : 0);
    s << std::fixed << t;
    return s.str();
}

int run_list(Context& ctx, ListOptions& o) {
    auto rules = ctx.store().limit_usage();
    if (o.json) {
        json out = json::array();
        for (const auto& r : rules) out.push_back(limit_rule_usage_json(r));
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& u : rules) {
        const LimitRule& r = u.rule;
        std::int64_t running = 0, held = 0;
        std::string at_limit;
        for (const auto& k : u.keys) {
            running += k.running;
            held += k.held;
        }
        rows.push_back({r.pattern, r.concurrency ? std::to_string(*r.concurrency) : "-",
                        r.rate_n && r.rate_per_ms ? format_rate(*r.rate_n, *r.rate_per_ms) + (r.burst > 1 ? " burst " + std::to_string(r.burst) : "") : "-",
                        r.weight ? std::to_string(*r.weight) : "-", std::to_string(u.keys.size()), std::to_string(running),
                        std::to_string(held)});
        // Each key holding jobs back, indented under its rule (the busiest first, at most 10).
        auto keys = u.keys;
        std::sort(keys.begin(), keys.end(), [](const LimitKeyUsage& a, const LimitKeyUsage& b) { return a.held > b.held; });
        for (std::size_t i = 0; i < keys.size() && i < 10; ++i) {
            const auto& k = keys[i];
            rows.push_back({"  " + k.key, r.concurrency ? std::to_string(k.running) + "/" + std::to_string(*r.concurrency) : "",
                            k.tokens ? tokens_text(*k.tokens) + " tokens" : "", "", "", std::to_string(k.running),
                            std::to_string(k.held)});
        }
    }
    print_table({"PATTERN", "CONCURRENCY", "RATE", "WEIGHT", "KEYS", "RUNNING", "HELD"}, rows);
    return 0;
}

int run_remove(Context& ctx, RemoveOptions& o) {
    check_limit_pattern(o.pattern);
    bool removed = ctx.store().limit_remove(o.pattern);
    if (o.json) {
        std::cout << json{{"pattern", o.pattern}, {"removed", removed}}.dump() << "\n";
        return removed ? 0 : exit_code_for(ErrorCode::not_found);
    }
    if (!removed) throw Error(ErrorCode::not_found, "no rule '" + o.pattern + "'");
    std::cerr << "rule " << o.pattern << " removed\n";
    return 0;
}

}  // namespace

void add_limits_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("limits", "Flow control: concurrency caps, rate limits and group weights per limit key");
    group->require_subcommand(1);

    auto s = std::make_shared<SetOptions>();
    auto* set = group->add_subcommand("set", "Add or replace the rule for PATTERN (a limit key, or a prefix ending in *)");
    set->add_option("pattern", s->flags.pattern, "A limit key (org:acme) or a prefix ending in * (org:*): each key it matches counts apart")
        ->required();
    set->add_option("--concurrency", s->flags.concurrency, "At most N running jobs per key, across every worker (0 holds them all back)");
    set->add_option("--rate", s->flags.rate, "At most N starts per DUR per key, as N/DUR (5000/1h, 10/1s)");
    set->add_option("--burst", s->flags.burst, "Tokens the rate bucket holds (default 1): starts in any window W <= burst + N*W/DUR");
    set->add_option("--weight", s->flags.weight, "Turns per round for group:G rules (default 1)");
    set->add_flag("--json", s->json, "Print the rule as JSON");
    on_run(set, ctx, s, run_set);

    auto l = std::make_shared<ListOptions>();
    auto* list = group->add_subcommand("list", "Each rule with what it holds now: running and held-back jobs per key, tokens");
    list->add_flag("--json", l->json, "Print a JSON array");
    on_run(list, ctx, l, run_list);

    auto r = std::make_shared<RemoveOptions>();
    auto* remove = group->add_subcommand("remove", "Remove the rule for PATTERN; the jobs it held back are looked at again at once");
    remove->add_option("pattern", r->pattern, "The rule's pattern, as given to set")->required();
    remove->add_flag("--json", r->json, "Print JSON");
    on_run(remove, ctx, r, run_remove);
}

}  // namespace wfq::cli
