#pragma once
// Periodic jobs: five-field cron expressions in a time zone, and the tick that enqueues due
// schedules exactly once however many workers run it (DESIGN.md "Operating the queue").
#include <wfq/clock.h>
#include <wfq/operating.h>
#include <wfq/store.h>

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wfq {

// "minute hour day-of-month month day-of-week" with *, ranges (1-5), steps (*/15, 1-30/2),
// lists (1,15), month names (jan-dec) and day names (sun-sat, 0 and 7 both Sunday); or
// @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually). As in cron, when both
// day fields are restricted a day matching either runs.
// Times are in zone tz (IANA name, read from the system's zoneinfo). A local time skipped by a
// DST change (02:30 when clocks jump from 02:00 to 03:00) runs once, at the jump; a local time
// that happens twice (clocks set back) runs once, at its first occurrence.
class CronSchedule {
public:
    // Throws Error(usage) naming the bad field ("cron minute field: ...", "--tz: unknown ...").
    CronSchedule(const std::string& expression, const std::string& tz = "UTC");
    // The first tick strictly after t.
    TimeMs next_after(TimeMs t) const;
    // The latest tick at or before now, searching from first (a tick); nullopt when first > now.
    std::optional<TimeMs> latest_at_or_before(TimeMs first, TimeMs now) const;

private:
    std::bitset<60> m_minutes;
    std::bitset<24> m_hours;
    std::bitset<32> m_days;    // 1..31
    std::bitset<13> m_months;  // 1..12
    std::bitset<7> m_weekdays; // 0 = Sunday
    bool m_any_day = true, m_any_weekday = true;
    const void* m_zone = nullptr;  // const date::time_zone*
};

// What `wfq schedule add` takes: the schedule and the enqueue flags of its jobs.
struct ScheduleRequest {
    Schedule schedule;
};

// Validates (cron, zone, job fields; Error(usage) or Error(bad_input) naming the field), computes
// the first tick after now and stores the schedule (replacing one of the same name).
Schedule add_schedule(Store& store, Schedule schedule);
// Pauses or resumes (resuming starts from the next tick after now: missed ticks are skipped).
// Error(not_found) for an unknown name.
void pause_schedule(Store& store, const std::string& name, bool paused);
void remove_schedule(Store& store, const std::string& name);

struct TickFired {
    std::string schedule;
    TimeMs scheduled_for = 0;
    std::int64_t job_id = 0;
};

// One pass: each due schedule enqueues one job for its latest due tick (after downtime only
// the latest missed tick) and moves on to its next tick. The job's payload is the schedule's
// with "schedule" (the name) and "scheduled_for" (the tick, RFC 3339) added.
std::vector<TickFired> tick_schedules(Store& store);

}  // namespace wfq
