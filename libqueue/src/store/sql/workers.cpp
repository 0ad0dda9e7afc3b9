// Workers: registration, heartbeats, the list `wfq workers` shows.
#include "sql_store.h"

#include "rows.h"
#include "sql_text.h"

namespace wfq::store {

void SqlStore::register_worker(const WorkerInfo& w) {
    run("INSERT INTO workers (id, hostname, pid, queues, types, started_at, last_heartbeat, running, stats) "
        "VALUES ($1, $2, $3, $4, $5, wfq_now_ms(), wfq_now_ms(), 0, '{}') ON CONFLICT (id) DO UPDATE SET "
        "last_heartbeat = excluded.last_heartbeat",
        {w.id, w.hostname, std::int64_t(w.pid), join_csv(w.queues), join_csv(w.types)});
}

void SqlStore::heartbeat(const std::string& worker_id, int running, const std::string& stats) {
    run("UPDATE workers SET last_heartbeat = wfq_now_ms(), running = $2, stats = $3 WHERE id = $1",
        {worker_id, std::int64_t(running), stats});
}

void SqlStore::deregister_worker(const std::string& worker_id) {
    run("DELETE FROM workers WHERE id = $1", {worker_id});
}

std::vector<WorkerInfo> SqlStore::list_workers() {
    std::vector<WorkerInfo> out;
    for (const auto& r : run(std::string("SELECT ") + kWorkerColumns + " FROM workers ORDER BY started_at, id", {}))
        out.push_back(worker_from_row(r));
    return out;
}

}  // namespace wfq::store
