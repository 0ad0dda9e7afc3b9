#pragma once
// Internal: SQL fragments and builders the store's families share.
#include "../db.h"

#include <algorithm>
#include <string>
#include <vector>

namespace wfq::store {

// The predicate of the partial index jobs_finished: SQLite's word for word (migration 21),
// which implies PostgreSQL's (`IN` of the three, migration 7). Queries on finished jobs carry it
// as a term of their own: SQLite uses a partial index only when the query's WHERE contains its
// predicate (it does not reason that state = 'failed' implies an `IN`); PostgreSQL sees that the
// index implies it. Written as two `IN` lists of two, each evaluated by comparisons: an `IN` of
// three constants is a temporary b-tree built for the old and the new row of every claim and
// every outcome (STATE_LIST_TERM); and no `=` alone implies it, so the plans of queries without
// the term stay as they were.
#define FINISHED_STATES_TERM "(state IN ('completed', 'failed') OR state IN ('cancelled', 'cancelled'))"
// The predicate of the partial index jobs_state_list (state, id, ...): SQLite's word for word
// (migration 20), which implies PostgreSQL's (`IN` of the three, migration 7). SQLite evaluates
// an `IN` list of three or more constants through a temporary b-tree built for every row a
// statement writes (26% more instructions in `bench work`), one of two by comparisons; and as
// written SQLite uses the index only for a query that carries the term (with `state = 'failed'
// OR ...` it took it for `state = 'failed'` alone, where `top` wants jobs_finished).
#define STATE_LIST_TERM "(state IN ('failed', 'cancelled') OR state = 'waiting')"

inline constexpr const char* kActiveStates = "('pending', 'running', 'waiting')";
// Producers of one idempotency key take this name's transaction lock (the SQL API too:
// pg_advisory_xact_lock(hashtextextended('wfq-key:' || key, 1))).
inline constexpr const char* kKeyLockPrefix = "wfq-key:";

// "Still running", for statements that find their jobs by id: the state is compared with a
// subquery, not a literal, so PostgreSQL cannot answer it from the partial index of running
// jobs. It did, with a bitmap scan, and a bitmap scan never marks dead index entries: every
// flush read every job finished since the last vacuum (500 outcomes: 9.9 ms with 20,000
// finished jobs, 5.1 ms by id).
inline constexpr const char* kStillRunning = "jobs.state = (SELECT 'running')";

// Flow control: key $1's held-back jobs are looked at again at $2 (or earlier, if set so).
inline constexpr const char* kSetWake =
    "INSERT INTO limit_state (key, wake_at) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET wake_at = "
    "CASE WHEN limit_state.wake_at IS NULL OR limit_state.wake_at > excluded.wake_at THEN excluded.wake_at "
    "ELSE limit_state.wake_at END";

// Flow control's group turns: the claim order of a priority's pending jobs, in nanoseconds: run_at
// (capped where nanoseconds would overflow 64 bits, past the year 2255) plus turn_lag, 0 for a
// job without a group. The claim index jobs_claim (migration 15) has this expression word for
// word (alias "c." aside), as both backends match an ORDER BY to an index expression only so.
std::string turn_key(const std::string& alias);
// The same in C++: run_at in nanoseconds (capped as turn_key()), and the whole turn key.
inline constexpr TimeMs kTurnKeyCapMs = 9'000'000'000'000;
inline std::int64_t run_at_ns(TimeMs run_at) { return std::min(run_at, kTurnKeyCapMs) * 1'000'000; }
inline std::int64_t turn_key_ns(TimeMs run_at, std::int64_t turn_lag) { return run_at_ns(run_at) + turn_lag; }

// The indexes of items in ascending job id: statements that update many of a worker's running
// jobs at once (outcomes, lease renewals, prefetch marks) list them in one order, so that
// whatever plan a statement gets, two of them lock the rows in the same order. (A completer's
// flush failed once with "deadlock detected" on PostgreSQL in a soak; its outcomes went in
// finishing order, renewals in the worker's order. Not reproduced; this removes that cycle.)
template <typename T, typename Id>
std::vector<std::size_t> in_id_order(const std::vector<T>& items, Id id) {
    std::vector<std::size_t> order(items.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return id(items[a]) < id(items[b]); });
    return order;
}

// "$k, $k+1, ..." for n values starting at parameter number first.
std::string placeholders(std::size_t first, std::size_t n);

// Appends "AND column IN ($..)" for a non-empty list.
void add_in(std::string& sql, Params& params, const std::string& column, const std::vector<std::string>& values);

// The queues a worker serves, each once, in the order given (`--queue a --queue a`).
std::vector<std::string> distinct_queues(const std::vector<std::string>& queues);

// Paused queues wait. For one named queue (placeholder q) the pause is checked once, before its
// jobs are read: the condition names no column of the row, so the planner keeps its estimate
// and a paused queue's backlog is not walked. Across every queue (column), NOT IN over the
// small pause table: one hashed lookup per row. (As a NOT EXISTS anti-join correlated with
// the row, it was estimated at one row, so LIMIT discounted nothing and, once the table was
// analyzed, a claim sorted the whole backlog: 190 ms at 200,000 pending jobs.)
std::string queue_not_paused(const std::string& q);
std::string no_paused_queue(const std::string& column);

// A worker's queues and types are stored as comma-separated lists.
std::string join_csv(const std::vector<std::string>& v);
std::vector<std::string> split_csv(const std::string& s);

}  // namespace wfq::store
