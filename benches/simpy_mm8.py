"""The same M/M/8 at rho = 0.9 in SimPy, for the README's comparison.

    pip install simpy==4.1.2
    python3 benches/simpy_mm8.py [customers]   # default 200,000

Prints customers per second of the whole simulation (best of 3), and the
mean wait, to check it simulated the same queue (Erlang C: 0.877 s).
The surge side: `target/release/surge run scenarios/mmc.toml --set
duration=193h --charts none --quiet` (5 M customers, whole process).
"""

import random
import sys
import time

try:
    import simpy
except ModuleNotFoundError:
    sys.exit("SimPy is not installed: pip install simpy==4.1.2")

SERVERS = 8
ARRIVAL_RATE = 7.2  # per second
MEAN_SERVICE = 1.0  # seconds


def run(customers, seed):
    env = simpy.Environment()
    gpus = simpy.Resource(env, capacity=SERVERS)
    rng = random.Random(seed)
    waits = []

    def job(env):
        arrived = env.now
        with gpus.request() as slot:
            yield slot
            waits.append(env.now - arrived)
            yield env.timeout(rng.expovariate(1.0 / MEAN_SERVICE))

    def source(env):
        for _ in range(customers):
            yield env.timeout(rng.expovariate(ARRIVAL_RATE))
            env.process(job(env))

    env.process(source(env))
    env.run()
    return sum(waits) / len(waits)


def main():
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    best = float("inf")
    for seed in range(3):
        start = time.perf_counter()
        mean_wait = run(customers, seed)
        best = min(best, time.perf_counter() - start)
    print(
        f"simpy {simpy.__version__}: M/M/8 rho=0.9, {customers} customers: "
        f"{customers / best:,.0f} customers/s (best of 3, {best:.2f} s); "
        f"mean wait {mean_wait:.3f} s"
    )


if __name__ == "__main__":
    main()
