// Cron expressions, time zones (Howard Hinnant's date/tz over the system's zoneinfo: g++ 12 has
// no <chrono> zones) and the schedule tick.
#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/log.h>
#include <wfq/queue.h>
#include <wfq/schedule.h>

#include <date/date.h>
#include <date/tz.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace wfq {
namespace {

const date::time_zone* zone_of(const void* z) { return static_cast<const date::time_zone*>(z); }

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

struct Field {
    const char* name;
    int min, max;
    std::vector<std::string> names;  // names[i] is value min + i (months) or i (days)
};

const Field kMinute{"minute", 0, 59, {}};
const Field kHour{"hour", 0, 23, {}};
const Field kDay{"day-of-month", 1, 31, {}};
const Field kMonth{"month", 1, 12, {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}};
const Field kWeekday{"day-of-week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}};

[[noreturn]] void bad(const Field& f, const std::string& why) {
    throw Error(ErrorCode::usage, std::string("cron ") + f.name + " field: " + why);
}

int value(const Field& f, const std::string& text) {
    std::string t = lower(text);
    for (std::size_t i = 0; i < f.names.size(); ++i)
        if (t == f.names[i]) return static_cast<int>(i) + (f.min == 1 ? 1 : 0);
    if (t.empty() || !std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); }) || t.size() > 3)
        bad(f, "'" + text + "' is not a number" + (f.names.empty() ? "" : " or a name"));
    int v = std::stoi(t);
    if (v < f.min || v > f.max)
        bad(f, "'" + text + "' is out of range " + std::to_string(f.min) + "-" + std::to_string(f.max));
    return v;
}

// Sets the values a field allows; returns false when it starts with '*' (unrestricted, for the
// day-of-month/day-of-week rule).
template <std::size_t N>
bool parse_field(const Field& f, const std::string& text, std::bitset<N>& bits) {
    if (text.empty()) bad(f, "empty");
    std::stringstream parts(text);
    std::string part;
    while (std::getline(parts, part, ',')) {
        if (part.empty()) bad(f, "empty list item in '" + text + "'");
        int step = 1;
        auto slash = part.find('/');
        std::string range = part.substr(0, slash);
        if (slash != std::string::npos) {
            std::string s = part.substr(slash + 1);
            if (s.empty() || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }) || s.size() > 3)
                bad(f, "step '" + s + "' is not a number");
            step = std::stoi(s);
            if (step < 1 || step > f.max) bad(f, "step " + s + " is out of range 1-" + std::to_string(f.max));
        }
        int lo, hi;
        if (range == "*") {
            lo = f.min;
            hi = f.max == 7 ? 6 : f.max;
        } else if (auto dash = range.find('-'); dash != std::string::npos) {
            lo = value(f, range.substr(0, dash));
            hi = value(f, range.substr(dash + 1));
            if (hi < lo) bad(f, "range '" + range + "' runs backwards");
        } else {
            lo = value(f, range);
            hi = slash == std::string::npos ? lo : (f.max == 7 ? 6 : f.max);  // "5/10": from 5 on
        }
        for (int v = lo; v <= hi; v += step) bits.set(static_cast<std::size_t>(f.max == 7 && v == 7 ? 0 : v));
    }
    return text[0] != '*';
}

// A local time's instant: a time skipped by a DST jump maps to the jump itself, a time that
// happens twice to its first occurrence.
date::sys_seconds to_sys(const date::time_zone* zone, date::local_seconds lt) {
    auto info = zone->get_info(lt);
    switch (info.result) {
        case date::local_info::nonexistent:
            return info.second.begin;
        case date::local_info::ambiguous:
        case date::local_info::unique:
        default:
            return date::sys_seconds{lt.time_since_epoch() - info.first.offset};
    }
}

}  // namespace

CronSchedule::CronSchedule(const std::string& expression, const std::string& tz) {
    try {
        m_zone = date::locate_zone(tz.empty() ? "UTC" : tz);
    } catch (const std::exception&) {
        throw Error(ErrorCode::usage, "--tz: unknown time zone '" + tz + "' (an IANA name such as Europe/Lisbon or UTC)");
    }
    std::string expr = expression;
    while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.back()))) expr.pop_back();
    while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.front()))) expr.erase(expr.begin());
    if (!expr.empty() && expr[0] == '@') {
        std::string m = lower(expr);
        if (m == "@hourly") expr = "0 * * * *";
        else if (m == "@daily" || m == "@midnight") expr = "0 0 * * *";
        else if (m == "@weekly") expr = "0 0 * * 0";
        else if (m == "@monthly") expr = "0 0 1 * *";
        else if (m == "@yearly" || m == "@annually") expr = "0 0 1 1 *";
        else
            throw Error(ErrorCode::usage, "--cron: unknown macro '" + expression +
                                              "' (@hourly, @daily, @weekly, @monthly, @yearly)");
    }
    std::istringstream in(expr);
    std::vector<std::string> fields;
    for (std::string f; in >> f;) fields.push_back(f);
    if (fields.size() != 5)
        throw Error(ErrorCode::usage, "--cron: '" + expression + "' has " + std::to_string(fields.size()) +
                                          " fields; want five: minute hour day-of-month month day-of-week");
    parse_field(kMinute, fields[0], m_minutes);
    parse_field(kHour, fields[1], m_hours);
    m_any_day = !parse_field(kDay, fields[2], m_days);
    parse_field(kMonth, fields[3], m_months);
    m_any_weekday = !parse_field(kWeekday, fields[4], m_weekdays);
    next_after(0);  // throws for an expression that never matches (0 0 31 feb *)
}

TimeMs CronSchedule::next_after(TimeMs t) const {
    using namespace std::chrono;
    const auto* zone = zone_of(m_zone);
    const date::sys_seconds sys_t{seconds{t >= 0 ? t / 1000 : (t - 999) / 1000}};
    const auto local_t = zone->to_local(sys_t);
    const auto first_day = date::floor<date::days>(local_t);
    const auto since_midnight = date::make_time(local_t - first_day);
    const int start_hour = static_cast<int>(since_midnight.hours().count());
    const int start_minute = static_cast<int>(since_midnight.minutes().count());
    // Eight years covers any valid expression (29 February on a given weekday).
    for (int d = 0; d < 366 * 8 + 2; ++d) {
        const auto day = first_day + date::days{d};
        const date::year_month_day ymd{day};
        if (!m_months.test(static_cast<unsigned>(ymd.month()))) continue;
        const bool dom = m_days.test(static_cast<unsigned>(ymd.day()));
        const bool dow = m_weekdays.test(date::weekday{day}.c_encoding());
        const bool day_ok = m_any_day && m_any_weekday ? true
                            : m_any_day                ? dow
                            : m_any_weekday            ? dom
                                                       : (dom || dow);
        if (!day_ok) continue;
        for (int h = d == 0 ? start_hour : 0; h < 24; ++h) {
            if (!m_hours.test(static_cast<std::size_t>(h))) continue;
            for (int m = (d == 0 && h == start_hour) ? start_minute : 0; m < 60; ++m) {
                if (!m_minutes.test(static_cast<std::size_t>(m))) continue;
                const date::local_seconds lt{day.time_since_epoch() + hours{h} + minutes{m}};
                const TimeMs ms = static_cast<TimeMs>(to_sys(zone, lt).time_since_epoch().count()) * 1000;
                if (ms > t) return ms;
            }
        }
    }
    throw Error(ErrorCode::usage, "--cron: the expression never matches a date (check day-of-month against month)");
}

std::optional<TimeMs> CronSchedule::latest_at_or_before(TimeMs first, TimeMs now) const {
    if (first > now) return std::nullopt;
    // Find a tick close before now in a window that grows (1h, 4h, 16h, ...), so that years of
    // downtime of a minutely schedule cost a few dozen steps, not millions; then step forward.
    TimeMs t = first;
    for (std::int64_t window = 3'600'000;; window *= 4) {
        if (now - window <= first) break;
        TimeMs c = next_after(now - window);
        if (c <= now) {
            t = c;
            break;
        }
    }
    for (;;) {
        TimeMs n = next_after(t);
        if (n > now) return t;
        t = n;
    }
}

namespace {
// The job a schedule enqueues, before its tick is added to the payload.
NewJob job_of(const Schedule& s) {
    NewJob job;
    job.type = s.type;
    job.queue = s.queue;
    job.payload = s.payload;
    job.priority = s.priority;
    job.max_attempts = s.max_attempts;
    job.key = s.key;
    job.key_mode = s.key_mode;
    job.org = s.org;
    job.repo = s.repo;
    job.limits = s.limits;
    job.group = s.group;
    return job;
}
}  // namespace

Schedule add_schedule(Store& store, Schedule s) {
    if (s.name.empty() || s.name.size() > 200) throw Error(ErrorCode::usage, "schedule name must be 1 to 200 characters");
    CronSchedule cron(s.cron, s.tz);
    if (s.tz.empty()) s.tz = "UTC";
    // The job it enqueues is checked as enqueue checks it.
    NewJob probe = job_of(s);
    DefaultRandom random;
    prepare_new_job(probe, random);
    s.next_run = cron.next_after(store.db_now());
    s.paused = false;
    store.schedule_put(s);
    return s;
}

void pause_schedule(Store& store, const std::string& name, bool paused) {
    std::optional<TimeMs> next;
    if (!paused) {
        auto all = store.schedules();
        auto it = std::find_if(all.begin(), all.end(), [&](const Schedule& s) { return s.name == name; });
        if (it == all.end()) throw Error(ErrorCode::not_found, "schedule '" + name + "' not found");
        next = CronSchedule(it->cron, it->tz).next_after(store.db_now());
    }
    if (!store.schedule_set_paused(name, paused, next)) throw Error(ErrorCode::not_found, "schedule '" + name + "' not found");
}

void remove_schedule(Store& store, const std::string& name) {
    if (!store.schedule_remove(name)) throw Error(ErrorCode::not_found, "schedule '" + name + "' not found");
}

std::vector<TickFired> tick_schedules(Store& store) {
    std::vector<TickFired> fired;
    const TimeMs now = store.db_now();
    DefaultRandom random;
    for (const auto& s : store.schedules()) {
        if (s.paused || !s.next_run || *s.next_run > now) continue;
        try {
            CronSchedule cron(s.cron, s.tz);
            const TimeMs tick = cron.latest_at_or_before(*s.next_run, now).value_or(*s.next_run);
            NewJob job = job_of(s);
            auto payload = nlohmann::json::parse(s.payload, nullptr, false);
            if (!payload.is_object()) payload = nlohmann::json::object();
            payload["schedule"] = s.name;
            payload["scheduled_for"] = format_time(tick);
            job.payload = payload.dump();
            prepare_new_job(job, random);
            if (auto id = store.schedule_fire(s.name, *s.next_run, tick, cron.next_after(now), job))
                fired.push_back({s.name, tick, *id});
        } catch (const Error& e) {
            if (e.code() == ErrorCode::db_unavailable) throw;
            // A schedule that cannot fire (e.g. its zone vanished from the system) must not stop
            // the others: it is skipped and logged.
            log::warn(std::string("schedule cannot fire: ") + e.what(), {{"schedule", s.name}});
        }
    }
    return fired;
}

}  // namespace wfq
