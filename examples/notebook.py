"""Reading surge's CSVs in a notebook (pandas + matplotlib).

The CSVs are tidy and typed: pandas reads them as-is (empty cells become
NaN). This reproduces the run's latency chart and a sweep curve with its
confidence band. Not run in CI; needs `pip install pandas matplotlib`.

    cargo run --release -- run scenarios/launch-day.toml --set duration=14h
    cargo run --release -- sweep scenarios/mmc.toml --grid pool.gpu.gpus=8,9,10,12 --replications 10
    python examples/notebook.py
"""

import pandas as pd
import matplotlib.pyplot as plt

# --- a run: one row per (point, replication, class) -----------------------
summary = pd.read_csv("output/launch-day/summary.csv")
print(summary[["class", "arrivals", "completed", "latency_p99_s", "slo_attainment"]])

# --- its time series: latency p50/p99 of image-plus, arrival rate above ----
ts = pd.read_csv("output/launch-day/timeseries.csv")
cls = ts[(ts.scope_kind == "class") & (ts.scope == "image-plus") & (ts.replication == 0)]
hours = cls.time_s / 3600
fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6), height_ratios=[1, 2])
top.plot(hours, cls.arrivals / cls.bucket_s, label="new requests / s")
top.plot(hours, cls.retries / cls.bucket_s, label="retries / s")
top.legend()
bottom.plot(hours, cls.latency_p50_s, label="p50")
bottom.plot(hours, cls.latency_p99_s, label="p99")
bottom.set_yscale("log")
bottom.set_xlabel("time (hours)")
bottom.set_ylabel("latency (s)")
bottom.legend()
fig.savefig("image-plus-latency.png", dpi=120)

# --- a sweep: p99 latency vs GPUs with the 95% confidence band ------------
sweep = pd.read_csv("output/mmc/sweep.csv")
jobs = sweep[sweep["class"] == "jobs"].sort_values("pool.gpu.gpus")
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(jobs["pool.gpu.gpus"], jobs.latency_p99_s_mean, marker="o")
ax.fill_between(jobs["pool.gpu.gpus"], jobs.latency_p99_s_ci_low, jobs.latency_p99_s_ci_high, alpha=0.3)
ax.set_xlabel("GPUs")
ax.set_ylabel("p99 latency (s)")
fig.savefig("mmc-sweep.png", dpi=120)
