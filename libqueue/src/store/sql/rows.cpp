#include "rows.h"

#include "sql_text.h"

#include <wfq/limits.h>

namespace wfq::store {

Job job_from_row(Row&& r) {
    Job j;
    j.id = r.i64(0);
    j.type = r.take_str(1);
    j.queue = r.take_str(2);
    j.payload = r.take_str(3);
    j.priority = static_cast<int>(r.i64(4));
    j.run_at = r.i64(5);
    j.state = parse_job_state(r.str(6)).value_or(JobState::pending);
    j.attempt = static_cast<int>(r.i64(7));
    j.max_attempts = static_cast<int>(r.i64(8));
    j.key = r.take_opt_str(9);
    j.lock_key = r.take_opt_str(10);
    j.org = r.take_opt_str(11);
    j.repo = r.take_opt_str(12);
    j.correlation_id = r.take_str(13);
    j.traceparent = r.take_opt_str(14);
    j.tracestate = r.take_opt_str(15);
    j.lease_owner = r.take_opt_str(16);
    j.lease_expires_at = r.opt_i64(17);
    j.current_stage = r.take_opt_str(18);
    j.last_error = r.take_opt_str(19);
    j.error_class = r.take_opt_str(20);
    j.result = r.take_opt_str(21);
    j.wait_event = r.take_opt_str(22);
    j.wait_key = r.take_opt_str(23);
    j.wait_deadline = r.opt_i64(24);
    j.created_at = r.i64(25);
    j.updated_at = r.i64(26);
    j.started_at = r.opt_i64(27);
    j.finished_at = r.opt_i64(28);
    j.wait_spec = r.take_opt_str(29);
    j.signal_data = r.take_opt_str(30);
    j.snoozes = static_cast<int>(r.i64(31));
    j.releases = static_cast<int>(r.i64(32));
    j.prefetched = r.i64(33) != 0;
    if (auto keys = r.take_opt_str(34)) j.limits = limit_keys_from_json(*keys);
    j.held = r.i64(35) != 0 && j.state == JobState::pending;
    j.held_by = r.take_opt_str(36);
    if (!j.held) j.held_by.reset();
    j.group = r.take_opt_str(37);
    j.turn_lag = r.i64(38);
    j.last_worker = j.lease_owner;
    if (j.state != JobState::running) j.lease_owner.reset();  // kept in the row as the last worker
    return j;
}

Job job_from_row(const Row& r) { return job_from_row(Row(r)); }

JobEvent job_event_from_row(const Row& r) {
    return {r.i64(0), r.i64(1), r.i64(2), r.str(3), r.str(4), static_cast<int>(r.i64(5)), r.opt_str(6),
            r.opt_str(7), r.opt_str(8)};
}

WorkerInfo worker_from_row(const Row& r) {
    WorkerInfo w;
    w.id = r.str(0);
    w.hostname = r.str(1);
    w.pid = static_cast<int>(r.i64(2));
    w.queues = split_csv(r.str(3));
    w.types = split_csv(r.str(4));
    w.started_at = r.i64(5);
    w.last_heartbeat = r.i64(6);
    w.running = static_cast<int>(r.i64(7));
    w.stats = r.str(8);
    return w;
}

LockGrant lock_from_row(const Row& r) {
    return {r.str(0), r.str(1), r.i64(2), r.i64(3), r.i64(4), r.i64(5) != 0};
}

Checkpoint checkpoint_from_row(const Row& r) {
    Checkpoint c;
    c.seq = static_cast<int>(r.i64(0));
    c.stage = r.str(1);
    c.kind = r.str(2);
    c.gzipped = r.i64(3) != 0;
    c.raw_bytes = static_cast<std::size_t>(r.i64(4));
    c.stored_bytes = static_cast<std::size_t>(r.i64(5));
    c.blob = r.str(6);
    c.summary = r.str(7);
    return c;
}

StoredSignal stored_signal_from_row(const Row& r) {
    StoredSignal s;
    s.id = r.i64(0);
    s.event = r.str(1);
    s.key = r.str(2);
    s.data = r.str(3);
    s.created_at = r.i64(4);
    s.expires_at = r.opt_i64(5);
    return s;
}

Schedule schedule_from_row(const Row& r) {
    Schedule s;
    s.name = r.str(0);
    s.cron = r.str(1);
    s.tz = r.str(2);
    s.type = r.str(3);
    s.queue = r.str(4);
    s.payload = r.str(5);
    s.priority = static_cast<int>(r.i64(6));
    s.max_attempts = static_cast<int>(r.i64(7));
    s.key = r.opt_str(8);
    s.org = r.opt_str(9);
    s.repo = r.opt_str(10);
    s.paused = r.i64(11) != 0;
    s.next_run = r.opt_i64(12);
    s.last_run = r.opt_i64(13);
    s.last_job_id = r.opt_i64(14);
    s.created_at = r.i64(15);
    s.updated_at = r.i64(16);
    s.key_mode = parse_key_mode(r.str(17)).value_or(KeyMode::keep);
    if (auto keys = r.opt_str(18)) s.limits = limit_keys_from_json(*keys);
    s.group = r.opt_str(19);
    return s;
}

}  // namespace wfq::store
