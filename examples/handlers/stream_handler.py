#!/usr/bin/env python3
"""A wfq stream handler: `wfq process --stream -- python3 stream_handler.py`.

One job per line on stdin, one answer per line on stdout (wfq-handler(7)). The process
serves many jobs: load clients and models once, at the top. Log to stderr; a line that
starts with "[ID]" is logged with job ID. Standard library only.
"""
import json
import sys


class Snooze(Exception):
    """Raise Snooze("30s") for "not now, again in 30s" (no attempt spent)."""


def handle(job):
    """The work: job has id, type, payload, attempt, config, ... Return the result."""
    return {"echo": job["payload"]}


def main():
    for line in sys.stdin:
        msg = json.loads(line)
        if "cancel" in msg:  # a job timed out or was cancelled: stop it if you can
            continue
        try:
            answer = {"id": msg["id"], "ok": True, "result": handle(msg)}
        except Snooze as s:
            answer = {"id": msg["id"], "snooze": str(s)}
        except Exception as e:  # any other failure is the job's; retried by the policy
            answer = {"id": msg["id"], "ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
