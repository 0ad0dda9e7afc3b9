#!/usr/bin/env python3
"""An independent checker for the partition test, written from DESIGN.md ("Jobs", "Locks",
"Faults"), not from wfq's code. It reads what the handlers and lock commands wrote (their
history), what the harness sampled from the database while the fault lasted (lease expiries as
the database judged them) and the final tables, and asserts:

- every job finished (completed), or is accounted for;
- no two runs of one job were active at the same time for more than the margin M;
- no outcome was accepted from a run that lost its lease: the stored result is the last
  attempt's, from a run that ended by itself;
- a run that lost its lease worked at most M after its lease's expiry as the database judged it
  (it stopped by then, or, on a frozen host, at once when the host ran again);
- lock critical sections (one per fencing token) never overlap for more than M, and each stops at
  most M after its lock's expiry;
- no lock is held by nobody once every holder has ended;
- `wfq lock run` told the truth: "stopped" only when its command did not end by itself.

Exit 0 when every assertion holds (or --measure), 1 otherwise; the last line of stdout is a JSON
summary (overlaps, stop delays and work after expiry in seconds).
"""
import argparse
import collections
import json
import sys

GAP = 0.5  # a run that wrote nothing for this long was not working (stopped, or frozen)


def read_history(path):
    runs = collections.defaultdict(list)  # (kind, subject, run) -> [(time, event, host)]
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 6:
                continue  # a line cut by a SIGKILL
            event, kind, subject, run, host, t = parts
            runs[(kind, subject, int(run))].append((float(t), event, host))
    for events in runs.values():
        events.sort()
    return runs


def active(events):
    """The intervals in which a run worked: between consecutive events less than GAP apart."""
    out = []
    for (a, _, _), (b, _, _) in zip(events, events[1:]):
        if b - a > GAP:
            continue
        if out and out[-1][1] >= a:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def overlap(xs, ys):
    total, i, j = 0.0, 0, 0
    while i < len(xs) and j < len(ys):
        lo, hi = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if hi > lo:
            total += hi - lo
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total


def read_samples(path):
    """Last lease expiry (seconds) the database held for each (kind, subject, run)."""
    last = {}
    if not path:
        return last
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4 or parts[3] in ("", "\\N"):
                continue
            kind, subject, run, expires_ms = parts
            last[(kind, subject, int(run))] = int(expires_ms) / 1000.0
    return last


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--history", required=True)
    p.add_argument("--jobs", help="TSV: id, state, attempt, error_class, result (final table)")
    p.add_argument("--samples", help="lines: KIND SUBJECT RUN EXPIRES_MS, sampled during the test")
    p.add_argument("--locks", help="TSV: key, token, expires_at_ms, db_now_ms (final table)")
    p.add_argument("--lock-outcomes", help="lines: HOST EXIT MESSAGE (one per lock run)")
    p.add_argument("--margin", type=float, default=1.0, help="M, seconds")
    p.add_argument("--label", default="")
    p.add_argument("--measure", action="store_true", help="report, never fail")
    a = p.parse_args()

    runs = read_history(a.history)
    expiry = read_samples(a.samples)
    problems = []
    summary = {"label": a.label, "runs": len(runs), "max_overlap_s": 0.0, "overlaps": [], "stop_delays_s": [],
               "work_after_expiry_s": []}

    by_subject = collections.defaultdict(list)
    for key, events in runs.items():
        by_subject[key[:2]].append((key[2], events))

    for (kind, subject), rs in sorted(by_subject.items()):
        rs.sort()
        for i in range(len(rs)):
            for j in range(i + 1, len(rs)):
                ov = overlap(active(rs[i][1]), active(rs[j][1]))
                if ov > 0:
                    summary["overlaps"].append([kind, subject, rs[i][0], rs[j][0], round(ov, 3)])
                summary["max_overlap_s"] = max(summary["max_overlap_s"], round(ov, 3))
                if ov > a.margin:
                    problems.append(f"{kind} {subject}: runs {rs[i][0]} ({rs[i][1][0][2]}) and {rs[j][0]} "
                                    f"({rs[j][1][0][2]}) were active together for {ov:.2f} s (margin {a.margin} s)")
        # A run that a later one superseded lost its lease: it must have stopped by expiry + M.
        # What counts is the time it was working after the expiry: a frozen host (SIGSTOP) does
        # nothing while frozen, and must stop at once when it runs again.
        for run, events in rs[:-1]:
            exp = expiry.get((kind, subject, run))
            if exp is None:
                continue
            delay = events[-1][0] - exp
            worked = sum(max(0.0, hi - max(lo, exp)) for lo, hi in active(events))
            summary["stop_delays_s"].append(round(delay, 3))
            summary["work_after_expiry_s"].append(round(worked, 3))
            if worked > a.margin:
                how = "ended by itself" if events[-1][1] == "end" else "was stopped"
                problems.append(f"{kind} {subject} run {run} on {events[0][2]}: worked {worked:.2f} s after its lease "
                                f"expired (margin {a.margin} s); it {how} {delay:.2f} s after the expiry")

    if a.jobs:
        jobs = 0
        with open(a.jobs) as f:
            for line in f:
                jid, state, attempt, error_class, result = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
                jobs += 1
                attempt = int(attempt)
                if state != "completed":
                    if state == "failed" and error_class == "lease_expired":
                        summary.setdefault("accounted", []).append(jid)  # its attempts ran out by rescue
                        continue
                    problems.append(f"job {jid}: {state} ({error_class}), not finished")
                    continue
                try:
                    res = json.loads(result)
                except ValueError:
                    problems.append(f"job {jid}: completed with a result that is not the handler's: {result!r}")
                    continue
                run_events = runs.get(("job", jid, res.get("attempt")))
                if res.get("attempt") != attempt:
                    problems.append(f"job {jid}: the accepted outcome is attempt {res.get('attempt')}'s, but the job's "
                                    f"lease is attempt {attempt}'s: an outcome from a worker that lost its lease")
                elif not run_events or run_events[-1][1] != "end" or run_events[0][2] != res.get("host"):
                    problems.append(f"job {jid}: the accepted outcome matches no run that ended by itself")
                later = [r for (k, s, r) in runs if k == "job" and s == jid and r > attempt]
                if later:
                    problems.append(f"job {jid}: attempts {later} ran after the accepted attempt {attempt}")
        summary["jobs"] = jobs

    if a.locks:
        with open(a.locks) as f:
            for line in f:
                key, token, expires, now = line.rstrip("\n").split("\t")
                if int(expires) > int(now):
                    problems.append(f"lock {key}: held by token {token} once every holder had ended (held by nobody)")

    if a.lock_outcomes:
        lock_runs = {events[0][2]: events for (k, _, _), events in runs.items() if k == "lock"}
        with open(a.lock_outcomes) as f:
            for line in f:
                host, code, message = (line.rstrip("\n").split(" ", 2) + ["", ""])[:3]
                events = lock_runs.get(host)
                if events is None:
                    continue  # it never acquired the lock
                ended = events[-1][1] == "end"
                if "the command was stopped" in message and ended:
                    problems.append(f"lock run {host}: says it stopped the command, which had ended by itself")
                if "ended by itself" in message and not ended:
                    problems.append(f"lock run {host}: says the command had ended by itself, but it was stopped")
                if code == "0" and not ended:
                    problems.append(f"lock run {host}: exit 0, but its command did not end by itself")
        summary["lock_runs"] = len(lock_runs)

    if summary["stop_delays_s"]:
        summary["max_stop_delay_s"] = max(summary["stop_delays_s"])
    for problem in problems:
        print(("MEASURED: " if a.measure else "FAIL: ") + problem)
    summary["problems"] = len(problems)
    print(json.dumps(summary))
    return 0 if a.measure or not problems else 1


if __name__ == "__main__":
    sys.exit(main())
