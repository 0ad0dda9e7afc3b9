// Config documents per scope and their change log, which running workers watch.
#include "sql_store.h"

#include "sql_text.h"

namespace wfq::store {

void SqlStore::config_set(const std::string& scope, const std::string& doc) {
    transact([&] {
        m_db->exec("INSERT INTO configs (scope, doc, updated_at) VALUES ($1, $2, wfq_now_ms()) ON CONFLICT (scope) "
                   "DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
                   {scope, doc});
        record_config_change(scope);
    });
}

std::optional<std::string> SqlStore::config_get(const std::string& scope) {
    auto rows = run("SELECT doc FROM configs WHERE scope = $1", {scope});
    if (rows.empty()) return std::nullopt;
    return rows[0].str(0);
}

bool SqlStore::config_unset(const std::string& scope) {
    return transact([&] {
        if (m_db->exec("DELETE FROM configs WHERE scope = $1 RETURNING scope", {scope}).empty()) return false;
        record_config_change(scope);
        return true;
    });
}

std::vector<std::pair<std::string, std::string>> SqlStore::config_load(const std::vector<std::string>& scopes) {
    std::string sql = "SELECT scope, doc FROM configs WHERE 1 = 1";
    Params params;
    add_in(sql, params, "scope", scopes);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& r : run(sql, params)) out.emplace_back(r.str(0), r.str(1));
    return out;
}

void SqlStore::config_invalidate(const std::string& scope) {
    transact([&] { record_config_change(scope); });
}

std::unique_ptr<ConfigWatcher> SqlStore::open_config_watcher() {
    return retry([&] { return m_db->open_config_watcher(); }, default_db_retry_policy());
}

void SqlStore::record_config_change(const std::string& scope) {
    m_db->exec("INSERT INTO config_changes (scope, at) VALUES ($1, wfq_now_ms())", {scope});
    m_db->notify_config(scope);
}

}  // namespace wfq::store
