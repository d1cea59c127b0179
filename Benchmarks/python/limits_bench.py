"""Reference row: the Python `limits` library in memory, one hit() per call, timed per call.
Prints JSON: median and p99 in microseconds, calls per second.
Usage: python limits_bench.py SAMPLES"""
import json
import sys
import time

from limits import RateLimitItemPerDay, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

samples = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
storage = MemoryStorage()
limiter = FixedWindowRateLimiter(storage)
per_second = RateLimitItemPerSecond(1_000_000_000)
per_day = RateLimitItemPerDay(1_000_000_000_000)


def measure(body, count):
    for _ in range(1_000):
        body()
    times = []
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(count):
        before = clock()
        body()
        times.append(clock() - before)
    seconds = (clock() - start) / 1e9
    times.sort()
    return {
        "medianMicroseconds": times[len(times) // 2] / 1e3,
        "p99Microseconds": times[min(len(times) - 1, int(len(times) * 0.99))] / 1e3,
        "operationsPerSecond": count / seconds,
        "operations": count,
    }


def one_hit():
    if not limiter.hit(per_second, "key", "items"):
        raise SystemExit("limits refused a hit")


def two_limits():
    # What one decision with two limits costs: test both, then hit both.
    if not (limiter.hit(per_second, "key2", "items") and limiter.hit(per_day, "key2", "items")):
        raise SystemExit("limits refused a hit")


print(json.dumps({"hit": measure(one_hit, samples), "twoLimits": measure(two_limits, samples)}))
