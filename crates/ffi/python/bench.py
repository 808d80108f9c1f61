"""The cost of crossing into Rust from Python: a counter add and a labeled
counter add with consent granted, as an app records. Median of 21 rounds
of 100,000 calls, ns per call.

    pip install ./crates/ffi && python3 crates/ffi/python/bench.py
"""

import statistics
import tempfile
import time
from pathlib import Path

import candor

ROOT = Path(__file__).resolve().parents[3]
# The Ed25519 base point: a valid public key; nothing is sealed here.
KEY = '{"region": "eu", "algorithm": "ed25519", "public_key": "' + "58" + "66" * 31 + '"}'


def median_ns(call, n=100_000, rounds=21):
    per_call = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            call()
        per_call.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(per_call)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        client = candor.Client.open(candor.ClientOptions(
            data_dir=tmp, schema_toml=(ROOT / "examples" / "browser.toml").read_text(),
            signing_key_json=KEY, persist_interval_seconds=0))
        client.grant("usage")
        tabs = client.counter("browser.tabs_opened")
        opened = client.labeled_counter("app.opened")
        camera = opened.label("camera")
        empty = median_ns(lambda: None)
        print(f"python counter add: {median_ns(lambda: tabs.add(1)):.0f} ns")
        print(f"python labeled counter add: {median_ns(lambda: opened.add('camera', 1)):.0f} ns")
        print(f"python label handle add: {median_ns(lambda: camera.add(1)):.0f} ns")
        print(f"python empty lambda call (the loop's own cost): {empty:.0f} ns")


if __name__ == "__main__":
    main()
