// Stored pipeline state: gzip blobs, checkpoint chains (snapshots and JSON Patch deltas), and the
// encoder. The first byte picks: 0 inflate a blob; 1 restore a chain of stored blobs
// ("\0"-separated, each led by a byte: bit 0 delta, bit 1 gzip); 2 encode documents
// ("\0"-separated) as checkpoints and restore each exactly.
#include "fuzz_util.h"

#include <wfq/errors.h>
#include <wfq/gzip.h>
#include <wfq/json_check.h>
#include <wfq/state.h>

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    if (size < 1) return 0;
    const int mode = data[0] % 3;
    const std::string_view rest = fuzz::as_text(data + 1, size - 1);
    if (mode == 0) {
        try {
            std::string out = gzip_decompress(std::string(rest), 1 << 20);
            FUZZ_CHECK(out.size() <= (1u << 20), "inflated past the cap");
        } catch (const Error& e) {
            FUZZ_CHECK(e.code() == ErrorCode::bad_input, e.what());
        }
        return 0;
    }
    auto parts = fuzz::split(rest, '\0', 8);
    if (mode == 1) {
        std::vector<Checkpoint> chain;
        int seq = 0;
        for (const auto& p : parts) {
            if (p.empty()) continue;
            Checkpoint c;
            c.seq = ++seq;
            c.stage = "s" + std::to_string(seq);
            c.kind = (p[0] & 1) ? "delta" : "snapshot";
            c.gzipped = (p[0] & 2) != 0;
            c.blob = p.substr(1);
            chain.push_back(std::move(c));
        }
        try {
            (void)canonical(restore_context(chain));
        } catch (const Error& e) {
            FUZZ_CHECK(e.code() == ErrorCode::bad_input, e.what());
        }
        return 0;
    }
    StateOptions options;
    options.compress_above = 16;
    options.snapshot_every = 3;
    std::vector<Checkpoint> chain;
    Json previous;
    int since_snapshot = 0;
    for (const auto& p : parts) {
        Json doc;
        try {
            doc = parse_bounded_json(p, "doc");
        } catch (const Error&) {
            continue;
        }
        Checkpoint c = encode_checkpoint(static_cast<int>(chain.size()) + 1, "s", previous, doc, since_snapshot, options);
        since_snapshot = c.kind == "snapshot" ? 0 : since_snapshot + 1;
        chain.push_back(c);
        const Json restored = restore_context(chain);
        FUZZ_CHECK(canonical(restored) == canonical(doc), canonical(doc));
        previous = std::move(doc);
    }
    return 0;
}
