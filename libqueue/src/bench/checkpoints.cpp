// Bytes stored per pipeline run and the time to write and restore checkpoints.
#include "bench_support.h"

#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/gzip.h>
#include <wfq/queue.h>
#include <wfq/state.h>
#include <wfq/store.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace wfq::bench {

// Naive (full JSON each stage), full+gzip, and delta+gzip as wfq checkpoints, over a directory
// of stage contexts (the review-context fixtures); the time to encode one checkpoint and to
// restore the last, in memory and through the store.
json state(const BenchOptions& o, BenchEnvironment& env) {
    namespace fs = std::filesystem;
    if (o.fixtures.empty()) throw Error(ErrorCode::usage, "bench state needs --fixtures DIR (one JSON file per stage)");
    std::error_code ec;
    if (!fs::is_directory(o.fixtures, ec)) throw Error(ErrorCode::usage, "--fixtures: " + o.fixtures + " is not a directory");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(o.fixtures))
        if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw Error(ErrorCode::usage, "no .json files in " + o.fixtures);
    StateOptions opts;
    opts.summary = {"/pullRequest/number", "/validSuggestions"};
    // A real job whose checkpoints go through the store, as a pipeline writes them.
    Store& store = env.store();
    NewJob nj;
    nj.type = "bench_state";
    nj.queue = "bench_state";
    prepare_new_job(nj, *env.random);
    store.enqueue(nj);
    auto claimed = store.claim_batch({"bench", {"bench_state"}, {"bench_state"}, 1, 600000});
    if (claimed.empty()) throw Error(ErrorCode::failure, "bench state: could not claim its job");
    JobRef ref{claimed[0].id, "bench", claimed[0].attempt};
    std::vector<double> db_write_ms, db_restore_ms;
    std::vector<Checkpoint> chain;
    Json prev;
    int since = 0, seq = 0;
    std::size_t naive = 0, full_gzip = 0, stored = 0;
    std::vector<double> encode_ms, restore_ms;
    json stages = json::array();
    Clock& clock = *env.clock;
    for (const auto& f : files) {
        std::ifstream in(f);
        Json cur = Json::parse(in);
        std::string full = canonical(cur);
        auto t0 = clock.steady_ns();
        Checkpoint c = encode_checkpoint(++seq, f.stem().string(), prev, cur, since, opts);
        auto t1 = clock.steady_ns();
        chain.push_back(c);
        Json back = restore_context(chain);
        auto t2 = clock.steady_ns();
        if (canonical(back) != full) throw Error(ErrorCode::failure, "restore differs at " + f.string());
        auto t3 = clock.steady_ns();
        store.add_checkpoint(ref, c);
        auto t4 = clock.steady_ns();
        Json from_db = restore_context(store.load_checkpoints(ref.id));
        auto t5 = clock.steady_ns();
        if (canonical(from_db) != full) throw Error(ErrorCode::failure, "restore from the database differs at " + f.string());
        db_write_ms.push_back(static_cast<double>(t1 - t0 + t4 - t3) / 1e6);
        db_restore_ms.push_back(static_cast<double>(t5 - t4) / 1e6);
        since = c.kind == "snapshot" ? 0 : since + 1;
        std::size_t fg = gzip_compress(full).size();
        naive += full.size();
        full_gzip += fg;
        stored += c.stored_bytes;
        encode_ms.push_back(static_cast<double>(t1 - t0) / 1e6);
        restore_ms.push_back(static_cast<double>(t2 - t1) / 1e6);
        stages.push_back({{"stage", c.stage}, {"kind", c.kind}, {"full", full.size()}, {"full_gzip", fg},
                          {"stored", c.stored_bytes}, {"encode_ms", encode_ms.back()}, {"restore_ms", restore_ms.back()}});
        prev = std::move(cur);
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    json out{{"stages", files.size()}, {"naive_bytes", naive}, {"full_gzip_bytes", full_gzip}, {"delta_gzip_bytes", stored},
             {"delta_gzip_vs_naive", static_cast<double>(stored) / static_cast<double>(naive)},
             {"encode_p50_ms", median(encode_ms)}, {"restore_p50_ms", median(restore_ms)},
             {"backend", store.backend()}, {"checkpoint_with_write_p50_ms", median(db_write_ms)},
             {"restore_from_db_p50_ms", median(db_restore_ms)}, {"restore_last_from_db_ms", db_restore_ms.back()}};
    complete_directly(store, ref);
    if (o.per_stage) out["per_stage"] = stages;
    return out;
}

}  // namespace wfq::bench
