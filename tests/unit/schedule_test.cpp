// Cron expressions and time zones (DST gaps and overlaps), the schedule tick's exactly-once
// rule with three racing tickers on one SQLite file under a ManualClock.
#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/schedule.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

namespace wfq {
namespace {

TimeMs at(const std::string& rfc3339) { return parse_time(rfc3339); }

std::vector<std::string> ticks(const CronSchedule& c, const std::string& from, int n) {
    std::vector<std::string> out;
    TimeMs t = at(from);
    for (int i = 0; i < n; ++i) {
        t = c.next_after(t);
        out.push_back(format_time(t));
    }
    return out;
}

std::string error_of(const std::string& expr, const std::string& tz = "UTC") {
    try {
        CronSchedule c(expr, tz);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::usage) << expr;
        return e.what();
    }
    return "";
}

TEST(Cron, FieldsRangesStepsListsAndNames) {
    CronSchedule c("*/20 9-10 * * mon-fri");
    EXPECT_EQ(ticks(c, "2026-11-27T10:30:00Z", 4),  // a Friday
              (std::vector<std::string>{"2026-11-27T10:40:00.000Z", "2026-11-30T09:00:00.000Z",
                                        "2026-11-30T09:20:00.000Z", "2026-11-30T09:40:00.000Z"}));
    EXPECT_EQ(ticks(CronSchedule("0 12 1,15 jan,Jul *"), "2026-01-01T12:00:00Z", 3),
              (std::vector<std::string>{"2026-01-15T12:00:00.000Z", "2026-07-01T12:00:00.000Z", "2026-07-15T12:00:00.000Z"}));
    // 7 is Sunday too; both day fields restricted: either matches (cron's rule).
    EXPECT_EQ(ticks(CronSchedule("0 0 * * 7"), "2026-11-26T00:00:00Z", 1), (std::vector<std::string>{"2026-11-29T00:00:00.000Z"}));
    EXPECT_EQ(ticks(CronSchedule("0 0 13 * fri"), "2026-11-01T00:00:00Z", 3),
              (std::vector<std::string>{"2026-11-06T00:00:00.000Z", "2026-11-13T00:00:00.000Z", "2026-11-20T00:00:00.000Z"}));
    EXPECT_EQ(ticks(CronSchedule("5/30 * * * *"), "2026-11-26T08:00:00Z", 2),
              (std::vector<std::string>{"2026-11-26T08:05:00.000Z", "2026-11-26T08:35:00.000Z"}));
    EXPECT_EQ(ticks(CronSchedule("0 0 29 feb *"), "2026-01-01T00:00:00Z", 1), (std::vector<std::string>{"2028-02-29T00:00:00.000Z"}));
}

TEST(Cron, Macros) {
    EXPECT_EQ(ticks(CronSchedule("@hourly"), "2026-11-26T08:00:00Z", 1), (std::vector<std::string>{"2026-11-26T09:00:00.000Z"}));
    EXPECT_EQ(ticks(CronSchedule("@daily"), "2026-11-26T08:00:00Z", 1), (std::vector<std::string>{"2026-11-27T00:00:00.000Z"}));
    EXPECT_EQ(ticks(CronSchedule("@weekly"), "2026-11-26T08:00:00Z", 1), (std::vector<std::string>{"2026-11-29T00:00:00.000Z"}));
}

TEST(Cron, ErrorsNameTheField) {
    EXPECT_NE(error_of("61 * * * *").find("cron minute field: '61' is out of range 0-59"), std::string::npos);
    EXPECT_NE(error_of("* 24 * * *").find("hour field"), std::string::npos);
    EXPECT_NE(error_of("* * 0 * *").find("day-of-month field"), std::string::npos);
    EXPECT_NE(error_of("* * * smarch *").find("month field"), std::string::npos);
    EXPECT_NE(error_of("* * * * 8").find("day-of-week field"), std::string::npos);
    EXPECT_NE(error_of("*/0 * * * *").find("step"), std::string::npos);
    EXPECT_NE(error_of("5-1 * * * *").find("backwards"), std::string::npos);
    EXPECT_NE(error_of("* * * *").find("want five"), std::string::npos);
    EXPECT_NE(error_of("@fortnightly").find("unknown macro"), std::string::npos);
    EXPECT_NE(error_of("* * * * *", "Mars/Olympus_Mons").find("--tz: unknown time zone"), std::string::npos);
    EXPECT_NE(error_of("0 0 31 feb *").find("never matches"), std::string::npos);
}

TEST(Cron, ZonesAndDaylightSaving) {
    // New York springs forward on 8 March 2026 at 02:00 EST to 03:00 EDT: 02:30 does not exist
    // that day. The daily 02:30 job runs once, at the jump, not zero or two times.
    CronSchedule ny("30 2 * * *", "America/New_York");
    EXPECT_EQ(ticks(ny, "2026-03-07T00:00:00Z", 3),
              (std::vector<std::string>{"2026-03-07T07:30:00.000Z", "2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"}));
    // Every 20 minutes through the gap: 02:00, 02:20, 02:40 all map to the jump, once.
    EXPECT_EQ(ticks(CronSchedule("*/20 * * * *", "America/New_York"), "2026-03-08T06:30:00Z", 4),
              (std::vector<std::string>{"2026-03-08T06:40:00.000Z", "2026-03-08T07:00:00.000Z", "2026-03-08T07:20:00.000Z",
                                        "2026-03-08T07:40:00.000Z"}));
    // Falling back on 1 November 2026: 01:30 happens twice; the job runs at the first one only.
    EXPECT_EQ(ticks(CronSchedule("30 1 * * *", "America/New_York"), "2026-10-31T12:00:00Z", 3),
              (std::vector<std::string>{"2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z", "2026-11-03T06:30:00.000Z"}));
    // Lisbon jumps from 01:00 WET to 02:00 WEST on 29 March 2026.
    EXPECT_EQ(ticks(CronSchedule("30 1 * * *", "Europe/Lisbon"), "2026-03-28T00:00:00Z", 3),
              (std::vector<std::string>{"2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"}));
    EXPECT_EQ(ticks(CronSchedule("0 9 * * *", "Asia/Kolkata"), "2026-11-26T00:00:00Z", 1),
              (std::vector<std::string>{"2026-11-26T03:30:00.000Z"}));
}

TEST(Cron, LatestMissedTick) {
    CronSchedule c("*/5 * * * *");
    EXPECT_EQ(c.latest_at_or_before(at("2026-11-26T08:00:00Z"), at("2026-11-26T09:03:00Z")), at("2026-11-26T09:00:00Z"));
    EXPECT_EQ(c.latest_at_or_before(at("2026-11-26T08:00:00Z"), at("2026-11-26T08:00:00Z")), at("2026-11-26T08:00:00Z"));
    EXPECT_FALSE(c.latest_at_or_before(at("2026-11-26T08:05:00Z"), at("2026-11-26T08:00:00Z")));
    // Ten years of downtime of a minutely schedule: the latest tick, found quickly.
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(CronSchedule("* * * * *").latest_at_or_before(at("2016-01-01T00:00:00Z"), at("2026-11-26T09:03:30Z")),
              at("2026-11-26T09:03:00Z"));
    EXPECT_EQ(CronSchedule("0 0 1 1 *").latest_at_or_before(at("2016-01-01T00:00:00Z"), at("2026-11-26T09:03:30Z")),
              at("2026-01-01T00:00:00Z"));
    EXPECT_EQ(CronSchedule("* 3 1 * *", "Europe/Lisbon").latest_at_or_before(at("2020-01-01T03:00:00Z"), at("2026-11-26T09:03:30Z")),
              at("2026-11-01T03:59:00Z"));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
}

class ScheduleTick : public ::testing::Test {
protected:
    void SetUp() override {
        dir = std::filesystem::temp_directory_path() /
              ("wfq-schedule-test-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
    std::unique_ptr<Store> open() {
        StoreOptions o;
        o.url = "sqlite:" + (dir / "wfq.db").string();
        o.clock = &clock;
        return open_store(o);
    }
    std::filesystem::path dir;
    ManualClock clock{at("2026-11-26T07:59:30Z")};
};

TEST_F(ScheduleTick, ThreeTickersEnqueueExactlyOneJobPerTickAndOnlyTheLatestAfterDowntime) {
    auto admin = open();
    Schedule s;
    s.name = "every-minute";
    s.cron = "* * * * *";
    s.type = "report";
    s.payload = R"({"kind": "daily"})";
    add_schedule(*admin, s);
    std::vector<std::unique_ptr<Store>> workers;
    for (int i = 0; i < 3; ++i) workers.push_back(open());
    auto race = [&] {
        std::vector<std::thread> threads;
        std::atomic<int> fired{0};
        for (auto& w : workers)
            threads.emplace_back([&, store = w.get()] {
                for (int i = 0; i < 5; ++i) fired += static_cast<int>(tick_schedules(*store).size());
            });
        for (auto& t : threads) t.join();
        return fired.load();
    };
    EXPECT_EQ(race(), 0) << "not due yet";
    for (int minute = 0; minute < 5; ++minute) {
        clock.advance_ms(60000);
        EXPECT_EQ(race(), 1) << "minute " << minute;
    }
    clock.advance_ms(3 * 3600 * 1000 + 30000);  // three hours of downtime
    EXPECT_EQ(race(), 1) << "only the latest missed tick";
    JobFilter f;
    f.limit = 100;
    auto jobs = admin->list_jobs(f);
    ASSERT_EQ(jobs.size(), 6u);
    auto last = nlohmann::json::parse(jobs.back().payload);
    EXPECT_EQ(last["schedule"], "every-minute");
    EXPECT_EQ(last["scheduled_for"], "2026-11-26T11:05:00.000Z");
    EXPECT_EQ(last["kind"], "daily");
    EXPECT_EQ(nlohmann::json::parse(jobs.front().payload)["scheduled_for"], "2026-11-26T08:00:00.000Z");
    pause_schedule(*admin, "every-minute", true);
    clock.advance_ms(600000);
    EXPECT_EQ(race(), 0) << "paused";
    pause_schedule(*admin, "every-minute", false);
    EXPECT_EQ(race(), 0) << "resuming skips the ticks missed while paused";
    clock.advance_ms(60000);
    EXPECT_EQ(race(), 1);
}

}  // namespace
}  // namespace wfq
