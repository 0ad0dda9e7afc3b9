// Schema: applies the embedded migrations (store/{postgres,sqlite}/migrations/, recorded by
// version and name in schema_migrations) and checks that the database has them.
#include "sql_store.h"

#include <wfq/clock.h>

#include <set>
#include <unordered_map>

namespace wfq::store {

std::vector<MigrationInfo> SqlStore::migrate() {
    return transact([&] {
        m_db->lock_for_migration();
        m_db->exec_script(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at bigint NOT NULL)");
        std::set<int> applied;
        for (const auto& r : m_db->exec("SELECT version FROM schema_migrations", {}))
            applied.insert(static_cast<int>(r.i64(0)));
        std::vector<MigrationInfo> done;
        for (const auto& m : m_db->migrations()) {
            if (applied.count(m.version)) continue;
            m_db->exec_script(m.sql);
            TimeMs now = SystemClock::instance().now_ms();
            m_db->exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                       {std::int64_t(m.version), std::string(m.name), now});
            done.push_back({m.version, m.name, now});
        }
        return done;
    });
}

std::vector<MigrationInfo> SqlStore::migration_status() {
    std::unordered_map<int, TimeMs> applied;
    try {
        for (const auto& r : run("SELECT version, applied_at FROM schema_migrations", {}))
            applied[static_cast<int>(r.i64(0))] = r.i64(1);
    } catch (const std::exception& e) {
        if (!m_db->is_missing_table(e)) throw;
    }
    std::vector<MigrationInfo> out;
    for (const auto& m : m_db->migrations()) {
        MigrationInfo info{m.version, m.name, std::nullopt};
        if (auto it = applied.find(m.version); it != applied.end()) info.applied_at = it->second;
        out.push_back(info);
    }
    return out;
}

bool SqlStore::schema_current() {
    try {
        auto rows = run("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
        return rows.at(0).i64(0) >= m_db->migrations().back().version;
    } catch (const std::exception&) {
        return false;  // no schema_migrations yet
    }
}

void SqlStore::check_schema() {
    int latest = m_db->migrations().back().version;
    std::int64_t have = 0;
    try {
        auto rows = run("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
        have = rows.at(0).i64(0);
    } catch (const std::exception& e) {
        if (!m_db->is_missing_table(e)) throw;
    }
    if (have < latest)
        throw Error(ErrorCode::config, "the database schema is " + (have ? "at version " + std::to_string(have) : std::string("missing")) +
                                           ", this wfq needs version " + std::to_string(latest) +
                                           "; run `wfq migrate` (with the same --db and --schema)");
}

TimeMs SqlStore::db_now() { return run("SELECT wfq_now_ms()", {}).at(0).i64(0); }

}  // namespace wfq::store
