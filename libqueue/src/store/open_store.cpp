#include "db.h"

#include <wfq/log.h>
#include <wfq/retry.h>

#include <cstdlib>

namespace wfq {

std::string resolve_db_url(const std::string& flag_value) {
    if (!flag_value.empty()) return flag_value;
    for (const char* var : {"WFQ_DB", "DATABASE_URL"})
        if (const char* v = std::getenv(var); v && *v) return v;
    std::string state;
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) state = x;
    else if (const char* home = std::getenv("HOME"); home && *home) state = std::string(home) + "/.local/state";
    else state = ".";
    return "sqlite:" + state + "/wfq/wfq.db";
}

static bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string resolve_pooler(const std::string& flag_value) {
    std::string v = flag_value;
    if (v.empty())
        if (const char* e = std::getenv("WFQ_POOLER"); e && *e) v = e;
    if (v.empty() || v == "none") return "";
    if (v == "transaction") return v;
    throw Error(ErrorCode::usage, "unknown pooler mode '" + v + "' (--pooler / WFQ_POOLER): use none or transaction");
}

std::unique_ptr<Store> open_store(const StoreOptions& options) {
    const std::string& url = options.url;
    if (starts_with(url, "sqlite:")) {
        std::string path = url.substr(7);
        if (starts_with(path, "//")) path = path.substr(2);
        if (path.empty()) throw Error(ErrorCode::config, "sqlite: URL without a path; use sqlite:PATH");
        return store::make_sql_store(store::open_sqlite_db(path, options.clock), false);
    }
    if (starts_with(url, "postgresql://") || starts_with(url, "postgres://") || url.find('=') != std::string::npos) {
        // A server that is down or restarting gets the same patience as a lost connection; a
        // refusal (authentication, missing database or role: Error(config)) is not retried.
        int tries = 0;
        auto db = retry(
            [&] {
                log::debug("connecting to the database", {{"db", redact_dsn(url)}, {"try", std::to_string(++tries)}});
                return store::open_postgres_db(url, options.schema, options.pooler == "transaction");
            },
            default_db_retry_policy());
        return store::make_sql_store(std::move(db), options.check_schema);
    }
    throw Error(ErrorCode::config, "unrecognised database URL '" + redact_dsn(url) +
                                       "': use sqlite:PATH, postgresql://..., or a libpq keyword string");
}

}  // namespace wfq
