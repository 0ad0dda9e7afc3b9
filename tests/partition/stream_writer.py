#!/usr/bin/env python3
"""The partition test's work as a stream handler (wfq process --stream): many jobs in one
process, each ticking in a thread of its own and appending the same history as
history_writer.sh ("EVENT job ID ATTEMPT HOST UNIX_TIME" to $PARTITION_HISTORY). It ignores
{"cancel": id}, the worst a stream handler may do: wfq must stop the process itself when a job's
lease is lost. On SIGTERM it notes "term" for each job it was working on and exits.
"""
import json
import os
import signal
import sys
import threading
import time

HISTORY = os.environ["PARTITION_HISTORY"]
HOST = os.environ["PARTITION_HOST"]
TICKS = int(os.environ["PARTITION_TICKS"])
lock = threading.Lock()
working = {}  # id -> attempt


def note(event, jid, attempt):
    with open(HISTORY, "a") as f:
        f.write("%s job %d %d %s %.6f\n" % (event, jid, attempt, HOST, time.time()))


def work(jid, attempt):
    note("start", jid, attempt)
    for _ in range(TICKS):
        time.sleep(0.1)
        note("tick", jid, attempt)
    with lock:
        note("end", jid, attempt)
        del working[jid]
        sys.stdout.write(json.dumps({"id": jid, "ok": True, "result": {"attempt": attempt, "host": HOST}}) + "\n")
        sys.stdout.flush()


def on_term(*_):
    with lock:
        for jid, attempt in working.items():
            note("term", jid, attempt)
    os._exit(143)


signal.signal(signal.SIGTERM, on_term)
for line in sys.stdin:
    msg = json.loads(line)
    if "cancel" in msg:
        continue  # ignored on purpose
    with lock:
        working[msg["id"]] = msg["attempt"]
    threading.Thread(target=work, args=(msg["id"], msg["attempt"]), daemon=True).start()
