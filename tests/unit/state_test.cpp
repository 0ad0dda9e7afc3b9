// JSON Patch conformance (the public RFC 6902 suite), fixture round trips, a seeded property
// test, and checkpoint encode/restore (gzip itself: util/gzip_test.cpp).
#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/state.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

namespace wfq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// tests/data in this repository (WFQ_TEST_DATA overrides it).
fs::path data_dir() {
    const char* d = std::getenv("WFQ_TEST_DATA");
    return d && *d ? fs::path(d) : fs::path(WFQ_TEST_DATA_DEFAULT);
}

json load(const fs::path& p) {
    std::ifstream in(p);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return json::parse(in);
}

std::vector<fs::path> fixture_steps(const std::string& size) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(data_dir() / "review-context" / size)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

void run_conformance(const std::string& file) {
    json cases = load(data_dir() / "json-patch" / file);
    int enabled = 0;
    for (const auto& c : cases) {
        if (c.value("disabled", false)) continue;
        ++enabled;
        std::string name = c.value("comment", c.dump().substr(0, 80));
        if (c.contains("error")) {
            EXPECT_THROW(apply_json_patch(c["doc"], c["patch"]), Error) << name;
            continue;
        }
        json got;
        ASSERT_NO_THROW(got = apply_json_patch(c["doc"], c["patch"])) << name;
        EXPECT_EQ(got, c.contains("expected") ? c["expected"] : c["doc"]) << name;
    }
    EXPECT_GT(enabled, 10);
}

TEST(JsonPatchConformance, Tests) { run_conformance("tests.json"); }
TEST(JsonPatchConformance, SpecTests) { run_conformance("spec_tests.json"); }

TEST(JsonPatch, RejectsWhatNlohmannAccepts) {
    // add or remove under a primitive parent, and move into its own child.
    EXPECT_THROW(apply_json_patch(json{{"a", "text"}}, json::parse(R"([{"op":"add","path":"/a/b","value":1}])")), Error);
    EXPECT_THROW(apply_json_patch(json{{"a", 5}}, json::parse(R"([{"op":"add","path":"/a/0","value":1}])")), Error);
    EXPECT_THROW(apply_json_patch(json{{"a", 5}}, json::parse(R"([{"op":"remove","path":"/a/b"}])")), Error);
    EXPECT_THROW(apply_json_patch(json::parse(R"({"a":{"b":{}}})"), json::parse(R"([{"op":"move","from":"/a","path":"/a/b/c"}])")),
                 Error);
    // ... while moving to a sibling with a shared prefix is fine.
    EXPECT_EQ(apply_json_patch(json::parse(R"({"a":1})"), json::parse(R"([{"op":"move","from":"/a","path":"/ab"}])")),
              json::parse(R"({"ab":1})"));
}

TEST(JsonPatch, ErrorsNameTheOperation) {
    try {
        apply_json_patch(json::object(), json::parse(R"([{"op":"test","path":"","value":{}},{"op":"remove","path":"/x"}])"));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_input);
        EXPECT_NE(std::string(e.what()).find("operation 2"), std::string::npos) << e.what();
    }
}

TEST(JsonPatch, DiffRoundTripsEveryFixtureStep) {
    for (const std::string size : {"typical", "large"}) {
        auto steps = fixture_steps(size);
        ASSERT_EQ(steps.size(), 18u) << size;
        json prev = json::object();
        for (const auto& step : steps) {
            json cur = load(step);
            json patch = diff_json_patch(prev, cur);
            EXPECT_TRUE(canonical(apply_json_patch(prev, patch)) == canonical(cur)) << step;
            prev = cur;
        }
    }
}

// A seeded generator of nested documents and random edits.
json random_doc(std::mt19937_64& rng, int depth) {
    std::uniform_int_distribution<int> kind(0, depth > 0 ? 6 : 3);
    switch (kind(rng)) {
        case 0: return static_cast<int>(rng() % 100);
        case 1: return std::string(1 + rng() % 3, static_cast<char>('a' + rng() % 4));
        case 2: return rng() % 2 == 0;
        case 3: return nullptr;
        case 4: case 5: {
            json o = json::object();
            int n = static_cast<int>(rng() % 5);
            for (int i = 0; i < n; ++i) o[std::string(1, static_cast<char>('a' + rng() % 6)) + (rng() % 5 == 0 ? "/~" : "")] = random_doc(rng, depth - 1);
            return o;
        }
        default: {
            json a = json::array();
            int n = static_cast<int>(rng() % 5);
            for (int i = 0; i < n; ++i) a.push_back(random_doc(rng, depth - 1));
            return a;
        }
    }
}

json mutate(const json& d, std::mt19937_64& rng, int depth) {
    if (rng() % 4 == 0 || depth == 0) return random_doc(rng, 2);
    json out = d;
    if (out.is_object()) {
        for (auto& [k, v] : out.items()) if (rng() % 3 == 0) v = mutate(v, rng, depth - 1);
        if (rng() % 3 == 0) out["new" + std::to_string(rng() % 3)] = random_doc(rng, 2);
        if (!out.empty() && rng() % 3 == 0) out.erase(out.begin());
    } else if (out.is_array()) {
        for (auto& v : out) if (rng() % 3 == 0) v = mutate(v, rng, depth - 1);
        if (rng() % 2 == 0) out.insert(out.begin() + static_cast<long>(rng() % (out.size() + 1)), random_doc(rng, 1));
        if (!out.empty() && rng() % 3 == 0) out.erase(out.begin() + static_cast<long>(rng() % out.size()));
    }
    return out;
}

TEST(JsonPatch, PropertyDiffThenApplyGivesTheTarget) {
    std::mt19937_64 rng(20261125);
    for (int i = 0; i < 2000; ++i) {
        json a = random_doc(rng, 4);
        json b = rng() % 2 ? mutate(a, rng, 4) : random_doc(rng, 4);
        json patch = diff_json_patch(a, b);
        ASSERT_EQ(apply_json_patch(a, patch), b) << "a=" << a << " b=" << b << " patch=" << patch;
    }
}

// Found by fuzzing: nlohmann's == rounds integers to doubles and casts uint64 to int64, so diff
// printed [] for documents that differ beyond 2^53 or in sign at 2^64, and a checkpoint delta
// could lose the change.
TEST(JsonPatch, DiffComparesNumbersExactly) {
    auto diff_of = [](const char* a, const char* b) {
        json x = json::parse(a), y = json::parse(b);
        json patch = diff_json_patch(x, y);
        EXPECT_EQ(canonical(apply_json_patch(x, patch)), canonical(y)) << a << " -> " << b;
        return patch.size();
    };
    EXPECT_EQ(diff_of("[18446744073709551615]", "[-1]"), 1u);
    EXPECT_EQ(diff_of("[9007199254740993]", "[9007199254740992.0]"), 1u);
    EXPECT_EQ(diff_of("[9223372036854775807]", "[9223372036854775808]"), 1u);
    // One number held as int64 or as uint64 is the same number, written alike.
    EXPECT_TRUE(json_equal(json(std::int64_t{5}), json(std::uint64_t{5}), JsonEquality::same_text));
    EXPECT_EQ(diff_of("[9223372036854775808]", "[-9223372036854775808]"), 1u);
    EXPECT_EQ(diff_of("[1]", "[1.0]"), 1u);
    EXPECT_EQ(diff_of("[0.0]", "[-0.0]"), 1u);
    EXPECT_EQ(diff_of(R"({"a": [1, 2.5, {"b": 3}]})", R"({"a": [1, 2.5, {"b": 3}]})"), 0u);
    EXPECT_EQ(diff_merge_patch(json::parse(R"({"a": 18446744073709551615})"), json::parse(R"({"a": -1})")).size(), 1u);

    EXPECT_TRUE(json_equal(json::parse("1"), json::parse("1.0"), JsonEquality::numeric));
    EXPECT_FALSE(json_equal(json::parse("1"), json::parse("1.0"), JsonEquality::same_text));
    EXPECT_FALSE(json_equal(json::parse("18446744073709551615"), json::parse("-1"), JsonEquality::numeric));
    EXPECT_FALSE(json_equal(json::parse("9007199254740993"), json::parse("9007199254740992.0"), JsonEquality::numeric));
    EXPECT_TRUE(json_equal(json::parse("-9223372036854775808"), json::parse("-9223372036854775808.0"), JsonEquality::numeric));
    EXPECT_FALSE(json_equal(json::parse("18446744073709551615"), json::parse("18446744073709551616.0"), JsonEquality::numeric));
    // RFC 6902's test compares numbers by value, exactly.
    EXPECT_NO_THROW(apply_json_patch(json::parse("[1]"), json::parse(R"([{"op":"test","path":"/0","value":1.0}])")));
    EXPECT_THROW(apply_json_patch(json::parse("[18446744073709551615]"), json::parse(R"([{"op":"test","path":"/0","value":-1}])")),
                 Error);
}

TEST(JsonPatch, EqualityIsIterative) {
    // Deeper than any recursion would survive: json_equal walks with a stack of its own.
    json a = json::array(), b = json::array();
    json *x = &a, *y = &b;
    for (int i = 0; i < 200000; ++i) {
        x = &x->emplace_back(json::array());
        y = &y->emplace_back(json::array());
    }
    EXPECT_TRUE(json_equal(a, b, JsonEquality::same_text));
    y->push_back(1);
    EXPECT_FALSE(json_equal(a, b, JsonEquality::same_text));
}

TEST(MergePatch, FollowsRfc7396Examples) {
    json target = json::parse(R"({"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"})");
    json patch = json::parse(R"({"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]})");
    json want = json::parse(R"({"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"})");
    EXPECT_EQ(apply_merge_patch(target, patch), want);
    EXPECT_EQ(apply_merge_patch(json::parse(R"({"a":"b"})"), json::parse(R"({"a":null})")), json::object());
    EXPECT_EQ(apply_merge_patch(json::parse(R"(["a","b"])"), json::parse(R"({"a":"c"})")), json::parse(R"({"a":"c"})"));
    EXPECT_EQ(apply_merge_patch(json::parse(R"({"e":null})"), json::parse(R"({"a":1})")), json::parse(R"({"e":null,"a":1})"));
    EXPECT_EQ(apply_merge_patch(target, diff_merge_patch(target, want)), want);
}

TEST(Checkpoints, RestoreEqualsEveryFixtureStepByteForByte) {
    for (const std::string size : {"typical", "large"}) {
        StateOptions opts;
        opts.summary = {"/pullRequest/number", "/validSuggestions"};
        std::vector<Checkpoint> chain;
        json prev;
        int since_snapshot = 0, seq = 0;
        std::size_t naive = 0, stored = 0;
        auto steps = fixture_steps(size);
        ASSERT_EQ(steps.size(), 18u) << size;
        for (const auto& step : steps) {
            json cur = load(step);
            Checkpoint c = encode_checkpoint(++seq, step.stem().string(), prev, cur, since_snapshot, opts);
            since_snapshot = c.kind == "snapshot" ? 0 : since_snapshot + 1;
            chain.push_back(c);
            ASSERT_EQ(canonical(restore_context(chain)), canonical(cur)) << step;
            naive += canonical(cur).size();
            stored += c.stored_bytes;
            prev = cur;
        }
        EXPECT_EQ(chain.front().kind, "snapshot");
        EXPECT_LT(stored * 5, naive) << size << ": delta+gzip should be far smaller than naive";
    }
}

TEST(Checkpoints, CorruptBlobsNameTheCheckpoint) {
    StateOptions opts;
    opts.compress_above = 10;
    json a = {{"items", json::array({1, 2, 3})}, {"text", std::string(200, 'a')}};
    json b = a;
    b["items"].push_back(4);
    std::vector<Checkpoint> chain{encode_checkpoint(1, "one", json(), a, 0, opts), encode_checkpoint(2, "two", a, b, 0, opts)};
    ASSERT_EQ(chain[1].kind, "delta");
    auto truncated = chain;
    truncated[0].blob.resize(truncated[0].blob.size() / 2);
    try {
        restore_context(truncated);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_input);
        EXPECT_NE(std::string(e.what()).find("checkpoint 1"), std::string::npos) << e.what();
    }
    auto bad_patch = chain;
    bad_patch[1].blob = R"([{"op":"remove","path":"/nope"}])";
    bad_patch[1].gzipped = false;
    EXPECT_THROW(restore_context(bad_patch), Error);
    auto summary = json::parse(chain[1].summary);
    EXPECT_EQ(summary["counts"]["items"], 4);
}

}  // namespace
}  // namespace wfq
