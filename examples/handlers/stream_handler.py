#!/usr/bin/env python3
"""A wfq stream handler: `wfq process --stream -- python3 stream_handler.py`.

One job per line on stdin, one answer per line on stdout (wfq-handler(7)). The process serves
many jobs: load clients and models once, at the top. Log to stderr; a line that starts with
"[ID]" is logged with job ID. Standard library only.
"""
import json
import sys


class Snooze(Exception):
    """Raise Snooze("30s") for "not now, again in 30s" (no attempt spent)."""


def handle(job):
    """The work: job has id, type, payload, attempt, config, ... Return the result."""
    return {"echo": job["payload"]}


def answer(msg):  # the line for one job
    try:
        return {"id": msg["id"], "ok": True, "result": handle(msg)}
    except Snooze as s:
        return {"id": msg["id"], "snooze": str(s)}
    except Exception as e:  # any other failure is the job's; retried by the policy
        return {"id": msg["id"], "ok": False, "error": f"{type(e).__name__}: {e}"}


def main(rest=b""):
    while chunk := sys.stdin.buffer.read1(1 << 16):  # all the lines that came, answered in one write
        *lines, rest = (rest + chunk).split(b"\n")
        msgs = [json.loads(line) for line in lines if line.strip()]
        sys.stdout.write("".join(json.dumps(answer(m)) + "\n" for m in msgs if "cancel" not in m))
        sys.stdout.flush()  # a {"cancel": id} line needs no answer: stop that job if you can


if __name__ == "__main__":
    main()
