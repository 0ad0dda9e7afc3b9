// `wfq enqueue --ndjson`'s ordered batch writer (libqueue/src/enqueue_ndjson.cpp), against the
// fake store: ids follow the lines, a bad line or a failed batch keeps what came before it.
#include "../support/fake_store.h"

#include <wfq/enqueue_ndjson.h>
#include <wfq/errors.h>

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace wfq {
namespace {

struct Rig {
    ManualClock clock;
    test::FakeStore store{clock};
    DefaultRandom random{7};
    std::vector<std::pair<std::string, std::int64_t>> reports;  // (ids, committed) per batch

    NdjsonEnqueueResult run(const std::string& text, int batch_size) {
        std::istringstream in(text);
        NdjsonEnqueueOptions o;
        o.batch_size = batch_size;
        return enqueue_ndjson(store, in, o, random,
                              [this](const std::string& ids, std::int64_t committed) { reports.emplace_back(ids, committed); });
    }
};

std::string lines(int n) {
    std::string out;
    for (int i = 1; i <= n; ++i) out += "{\"type\":\"t\",\"payload\":{\"i\":" + std::to_string(i) + "}}\n";
    return out;
}

TEST(EnqueueNdjson, CommitsInBatchesAndReportsIdsInInputOrder) {
    Rig rig;
    auto r = rig.run(lines(3) + "  \n" + lines(2), 2);
    EXPECT_EQ(r.committed, 5);
    ASSERT_EQ(rig.reports.size(), 3u) << "two full batches and the rest; the blank line is skipped";
    EXPECT_EQ(rig.reports[0], std::make_pair(std::string("1\n2\n"), std::int64_t(2)));
    EXPECT_EQ(rig.reports[1], std::make_pair(std::string("3\n4\n"), std::int64_t(4)));
    EXPECT_EQ(rig.reports[2], std::make_pair(std::string("5\n"), std::int64_t(5)));
    EXPECT_EQ(rig.store.job(3).payload, "{\"i\":3}");
    EXPECT_EQ(rig.store.job(4).payload, "{\"i\":1}") << "the line after the blank one";
}

TEST(EnqueueNdjson, AMalformedLineNamesItselfAndWhatWasCommittedBeforeIt) {
    Rig rig;
    try {
        rig.run(lines(3) + "{\"type\":\n" + lines(1), 2);
        FAIL() << "a malformed line is an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_input);
        std::string m = e.what();
        EXPECT_NE(m.find("line 4: "), std::string::npos) << m;
        EXPECT_NE(m.find("2 jobs were committed before it; its batch (1 earlier lines) was not committed"), std::string::npos) << m;
    }
    EXPECT_EQ(rig.store.jobs.size(), 2u) << "the batch holding line 3 was never written";
}

TEST(EnqueueNdjson, AFailedBatchKeepsTheBatchesBeforeIt) {
    Rig rig;
    rig.store.fail_enqueue_batch = [](int batch) {
        if (batch == 1) throw Error(ErrorCode::db_unavailable, "connection lost");
    };
    EXPECT_THROW(rig.run(lines(5), 2), Error);
    EXPECT_EQ(rig.store.jobs.size(), 2u);
    ASSERT_EQ(rig.reports.size(), 1u) << "only the committed batch is reported";
}

TEST(EnqueueNdjson, KeysComeFromLinesOnlyAndDuplicatesAreCounted) {
    Rig rig;
    std::istringstream in("{\"type\":\"t\",\"key\":\"pr-1\"}\n{\"type\":\"t\",\"key\":\"pr-1\"}\n{\"type\":\"u\"}\n");
    NdjsonEnqueueOptions o;
    o.defaults.key = "every-line";  // a key names one job: never taken from the defaults
    o.defaults.queue = "reviews";
    auto r = enqueue_ndjson(rig.store, in, o, rig.random, [](const std::string&, std::int64_t) {});
    EXPECT_EQ(r.duplicates, 1);
    EXPECT_EQ(rig.store.jobs.size(), 2u);
    EXPECT_FALSE(rig.store.job(2).key.has_value());
    EXPECT_EQ(rig.store.job(2).queue, "reviews") << "other defaults apply";
}

}  // namespace
}  // namespace wfq
