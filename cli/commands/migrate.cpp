#include "common.h"

namespace wfq::cli {
namespace {

struct MigrateOptions {
    bool status = false;
    bool json = false;
};

int run_migrate(Context& ctx, MigrateOptions& o) {
    Store& store = ctx.store(false);
    if (!o.status) {
        auto applied = store.migrate();
        if (o.json) {
            json out = json::array();
            for (const auto& m : applied) out.push_back(migration_json(m, true));
            std::cout << out.dump() << "\n";
        } else if (applied.empty()) {
            std::cerr << "schema is up to date (" << store.describe() << ")\n";
        } else {
            for (const auto& m : applied) std::cerr << "applied migration " << m.version << ": " << m.name << "\n";
        }
        return 0;
    }
    auto status = store.migration_status();
    if (o.json) {
        json out = json::array();
        for (const auto& m : status) out.push_back(migration_json(m));
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : status)
        rows.push_back({std::to_string(m.version), m.name, m.applied_at ? format_time(*m.applied_at) : "pending"});
    print_table({"VERSION", "NAME", "APPLIED"}, rows);
    return 0;
}

}  // namespace

void add_migrate_command(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<MigrateOptions>();
    auto* sub = app.add_subcommand("migrate", "Apply the schema migrations (automatic on SQLite)");
    sub->add_flag("--status", o->status, "List the migrations and whether each is applied");
    sub->add_flag("--json", o->json, "Print JSON");
    on_run(sub, ctx, o, run_migrate);
}

}  // namespace wfq::cli
