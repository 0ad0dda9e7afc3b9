#!/usr/bin/env python3
"""Latency and loss for one host of the partition test (this kernel has no netem qdisc).

Relays IP packets between two tun devices, one that the harness moves into the slow host's
network namespace and one left on this host, routed to the host's address: each packet, either
way, is dropped with probability --loss or delivered --delay-ms +- --jitter-ms later (uniform, so
packets may be reordered, as netem's jitter reorders them). Seeded, so a run can be repeated.

    relay.py TUN_HOST TUN_DB --delay-ms 50 --jitter-ms 20 --loss 0.05 --seed 1

It creates both devices, prints "ready" once they exist, and relays until SIGTERM; then it prints
what it relayed and dropped on stderr. The harness does the addresses and routes.
"""
import argparse
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("tun_host")
    p.add_argument("tun_db")
    p.add_argument("--delay-ms", type=float, default=50)
    p.add_argument("--jitter-ms", type=float, default=20)
    p.add_argument("--loss", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    rng = random.Random(a.seed)
    fds = [open_tun(a.tun_host), open_tun(a.tun_db)]
    other = {fds[0]: fds[1], fds[1]: fds[0]}
    stats = {"relayed": 0, "dropped": 0}
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    print("ready", flush=True)

    due = []  # (time, seq, fd, packet)
    seq = 0
    while running[0]:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, fd, packet = heapq.heappop(due)
            try:
                os.write(fd, packet)
                stats["relayed"] += 1
            except OSError:
                stats["dropped"] += 1  # the device is down (its namespace is going away)
        timeout = max(0.0, due[0][0] - now) if due else 0.2
        try:
            readable, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            continue
        for fd in readable:
            while True:
                try:
                    packet = os.read(fd, 65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    running[0] = False
                    break
                if rng.random() < a.loss:
                    stats["dropped"] += 1
                    continue
                delay = a.delay_ms + rng.uniform(-a.jitter_ms, a.jitter_ms)
                seq += 1
                heapq.heappush(due, (time.monotonic() + max(0.0, delay) / 1000.0, seq, other[fd], packet))
    print("relay: %d packets relayed, %d dropped (%.1f%%)" % (stats["relayed"], stats["dropped"],
          100.0 * stats["dropped"] / max(1, stats["relayed"] + stats["dropped"])), file=sys.stderr)


if __name__ == "__main__":
    main()
