#!/usr/bin/env python3
"""The raw-socket latency floor of this machine, for scale beside `relq bench --scenario latency`.

One producer thread LPUSHes its monotonic timestamp at 1,000/s; one consumer thread waits in
BLPOP on its own connection and records receive time minus timestamp. Plain sockets and RESP,
no client library, no scripts: what the OS and Redis alone cost on the producer -> Redis ->
waiting consumer path.

    scripts/raw-latency-floor.py PORT [COUNT]     # prints p50 / p99 in ms
"""
import socket
import sys
import threading
import time

PORT = int(sys.argv[1])
COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
KEY = "relq-raw-latency-floor-%d" % time.monotonic_ns()


def connect():
    sock = socket.create_connection(("127.0.0.1", PORT))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def command(*args):
    out = b"*%d\r\n" % len(args)
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out += b"$%d\r\n%s\r\n" % (len(data), data)
    return out


samples = []
done = threading.Event()


def consume(sock):
    replies = sock.makefile("rb")
    while not done.is_set():
        sock.sendall(command("BLPOP", KEY, "0.5"))
        header = replies.readline()
        if header.startswith(b"*-1"):
            continue  # timed out
        replies.readline(); replies.readline()  # key
        replies.readline(); value = replies.readline().strip()
        samples.append(time.perf_counter_ns() - int(value))


consumer = threading.Thread(target=consume, args=(connect(),))
consumer.start()
producer = connect()
acks = producer.makefile("rb")
time.sleep(0.2)
for _ in range(COUNT):
    producer.sendall(command("LPUSH", KEY, time.perf_counter_ns()))
    acks.readline()
    time.sleep(0.001)
time.sleep(0.1)
done.set()
consumer.join()
producer.sendall(command("UNLINK", KEY)); acks.readline()
measured = sorted(samples[COUNT // 10:])  # the first tenth warms up
print("raw LPUSH -> BLPOP, %d samples: p50 %.3f ms, p99 %.3f ms" % (
    len(measured), measured[len(measured) // 2] / 1e6, measured[int(len(measured) * 0.99)] / 1e6))
