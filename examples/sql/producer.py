#!/usr/bin/env python3
"""A producer in Python (Debian's python3-psycopg2): the application's own row and its wfq job in
one transaction, so the job exists if and only if the row does (wfq-sql(7)).

usage: producer.py PR [commit|rollback]
Connects with libpq's PG* variables; the queue's schema is WFQ_SCHEMA (default wfq).
"""
import json
import os
import sys

import psycopg2
from psycopg2 import sql

pr = int(sys.argv[1])
outcome = sys.argv[2] if len(sys.argv) > 2 else "commit"
enqueue = sql.SQL("SELECT {}.enqueue(%s, %s, %s)").format(sql.Identifier(os.environ.get("WFQ_SCHEMA", "wfq")))

conn = psycopg2.connect("")
try:
    with conn.cursor() as cur:  # the application's table (set-up, its own transaction)
        cur.execute("CREATE TABLE IF NOT EXISTS reviews (pr integer PRIMARY KEY)")
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("INSERT INTO reviews (pr) VALUES (%s)", (pr,))
        # A burst of pushes to one pull request becomes one review: key mode replace.
        cur.execute(enqueue, ("code_review", json.dumps({"pr": pr}),
                              json.dumps({"key": f"pr:{pr}", "key_mode": "replace"})))
        job_id = cur.fetchone()[0]
    if outcome == "commit":
        conn.commit()
        print(job_id)
    else:
        conn.rollback()
        print(f"rolled back: neither the row nor job {job_id} exists")
finally:
    conn.close()
