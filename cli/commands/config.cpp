#include "common.h"

#include <wfq/config_cache.h>
#include <wfq/json_check.h>

namespace wfq::cli {
namespace {

std::string read_object(const std::string& arg) {
    std::string text = arg == "-" ? read_input("-") : arg;
    json doc = parse_storable_json(text, "config");
    if (!doc.is_object()) throw Error(ErrorCode::bad_input, "a config document must be a JSON object");
    return doc.dump();
}

struct SetCmd {
    std::string scope, doc;
};

int run_set(Context& ctx, SetCmd& o) {
    validate_scope(o.scope);
    std::string doc = read_object(o.doc);
    ctx.store().config_set(o.scope, doc);
    std::cerr << "set " << o.scope << "; running workers drop their cached copies\n";
    return 0;
}

struct ScopeCmd {
    std::string scope;
    bool json = false;
};

int run_get(Context& ctx, ScopeCmd& o) {
    validate_scope(o.scope);
    auto doc = ctx.store().config_get(o.scope);
    if (!doc) throw Error(ErrorCode::not_found, "no config at scope " + o.scope);
    std::cout << json::parse(*doc).dump(o.json ? -1 : 2) << "\n";
    return 0;
}

int run_unset(Context& ctx, ScopeCmd& o) {
    validate_scope(o.scope);
    if (!ctx.store().config_unset(o.scope)) throw Error(ErrorCode::not_found, "no config at scope " + o.scope);
    std::cerr << "unset " << o.scope << "\n";
    return 0;
}

struct ResolveCmd {
    std::string org;
    std::optional<std::string> repo;
    bool explain = false, json = false;
};

int run_resolve(Context& ctx, ResolveCmd& o) {
    validate_scope(scope_of(o.org, o.repo));
    auto r = resolve_config(ctx.store(), o.org, o.repo);
    json doc = r ? json::parse(r->doc) : json::object();
    if (o.json) {
        json out{{"config", doc}};
        if (o.explain) out["sources"] = r ? json(r->sources) : json::object();
        std::cout << out.dump() << "\n";
        return 0;
    }
    if (!o.explain) {
        std::cout << doc.dump(2) << "\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (auto it = doc.begin(); it != doc.end(); ++it)
        rows.push_back({it.key(), r->sources.at(it.key()), it.value().dump()});
    print_table({"KEY", "FROM", "VALUE"}, rows);
    return 0;
}

struct StatsCmd {
    bool json = false;
};

int run_stats(Context& ctx, StatsCmd& o) {
    Store& store = ctx.store();
    auto workers = store.list_workers();
    CacheStats total;
    json per = json::array();
    std::vector<std::vector<std::string>> rows;
    auto row = [&](const std::string& who, const CacheStats& s) {
        rows.push_back({who, std::to_string(s.hits), std::to_string(s.misses), std::to_string(s.loads),
                        std::to_string(s.load_failures), std::to_string(s.evictions), std::to_string(s.expirations),
                        std::to_string(s.invalidations), std::to_string(s.entries),
                        std::to_string(static_cast<int>(s.hit_ratio() * 1000) / 10.0).substr(0, 5) + "%"});
    };
    for (const auto& w : workers) {
        auto published = CacheStats::from_worker_stats(w.stats);
        if (!published) continue;
        const CacheStats& s = *published;
        total += s;
        json entry = json::parse(s.to_json());
        entry["worker_id"] = w.id;
        per.push_back(entry);
        row(w.id, s);
    }
    if (o.json) {
        std::cout << json{{"workers", per}, {"total", json::parse(total.to_json())}}.dump() << "\n";
        return 0;
    }
    row("total", total);
    print_table({"WORKER", "HITS", "MISSES", "LOADS", "FAILURES", "EVICTIONS", "EXPIRED", "INVALIDATED", "ENTRIES", "HIT RATIO"},
                rows);
    return 0;
}

struct InvalidateCmd {
    std::optional<std::string> org, repo;
    bool all = false;
};

int run_invalidate(Context& ctx, InvalidateCmd& o) {
    if (o.all == o.org.has_value()) throw Error(ErrorCode::usage, "give --all, or --org O [--repo R]");
    if (o.repo && !o.org) throw Error(ErrorCode::usage, "--repo needs --org");
    std::string scope = o.all ? "*" : scope_of(*o.org, o.repo);
    if (!o.all) validate_scope(scope);
    ctx.store().config_invalidate(scope);
    std::cerr << "invalidated " << (o.all ? "every cached config" : scope) << " in running workers\n";
    return 0;
}

}  // namespace

void add_config_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("config", "Layered config documents: global, org:O, org:O/repo:R");
    group->require_subcommand(1);

    auto s = std::make_shared<SetCmd>();
    auto* set = group->add_subcommand("set", "Store the document of a scope (a JSON object, or - for stdin)");
    set->add_option("scope", s->scope, "global, org:O or org:O/repo:R")->required();
    set->add_option("doc", s->doc, "JSON object, or - for stdin")->required();
    on_run(set, ctx, s, run_set);

    auto g = std::make_shared<ScopeCmd>();
    auto* get = group->add_subcommand("get", "Print the document of a scope");
    get->add_option("scope", g->scope, "global, org:O or org:O/repo:R")->required();
    get->add_flag("--json", g->json, "Compact JSON");
    on_run(get, ctx, g, run_get);

    auto u = std::make_shared<ScopeCmd>();
    auto* unset = group->add_subcommand("unset", "Delete the document of a scope");
    unset->add_option("scope", u->scope, "global, org:O or org:O/repo:R")->required();
    on_run(unset, ctx, u, run_unset);

    auto r = std::make_shared<ResolveCmd>();
    auto* resolve = group->add_subcommand("resolve", "Print the effective config: global, then org, then repo (RFC 7396)");
    resolve->add_option("--org", r->org, "Organisation")->required();
    resolve->add_option("--repo", r->repo, "Repository");
    resolve->add_flag("--explain", r->explain, "Show which scope each top-level key came from");
    resolve->add_flag("--json", r->json, "Print JSON");
    on_run(resolve, ctx, r, run_resolve);
}

void add_cache_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("cache", "The workers' config caches");
    group->require_subcommand(1);

    auto s = std::make_shared<StatsCmd>();
    auto* stats = group->add_subcommand("stats", "Cache counters each worker published with its heartbeat, and the total");
    stats->add_flag("--json", s->json, "Print JSON");
    on_run(stats, ctx, s, run_stats);

    auto i = std::make_shared<InvalidateCmd>();
    auto* inv = group->add_subcommand("invalidate", "Make running workers drop cached configs");
    inv->add_option("--org", i->org, "Organisation (with its repos)");
    inv->add_option("--repo", i->repo, "Only this repository of --org");
    inv->add_flag("--all", i->all, "Everything");
    on_run(inv, ctx, i, run_invalidate);
}

}  // namespace wfq::cli
