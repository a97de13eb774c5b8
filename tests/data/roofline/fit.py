"""Fit surge's roofline efficiency defaults to the Splitwise measurements.

Data: splitwise-llama2-70b.csv, the mean of the repeated runs in SplitwiseSim's
data/perf_model.csv (github.com/Mutinifni/splitwise-sim, MIT; Patel et al.,
"Splitwise", ISCA 2024): Llama-2-70B on DGX-A100 and DGX-H100 at tensor
parallel 2, 4 and 8; prompt_time is the prefill of batch_size prompts of
prompt_size tokens, token_time the mean decode step while generating
token_size tokens. The tensor-parallel-2, batch-64 rows are left out: their
prefill takes an eighth of the batch-32 one, which no engine does.

The model is the one in src/model/serving/roofline.rs (keep them in step):
    step = overhead + [t > 1]·2L·(allreduce_latency + 2(t-1)/t·tokens·hidden·2 B / link)
         + max(FLOPs / (t·peak·mfu), bytes / (t·HBM·bandwidth_utilization))
FLOPs = 2·params·tokens + 4·L·heads·head_dim·context, bytes = weights + KV
bytes of the context (and of the prompt tokens written). Run: python3 fit.py
"""
import csv
import itertools
import math

import numpy as np

P, L, HID, HEADS, KVH, HD, BY = 68.98e9, 80, 8192, 64, 8, 128, 2.0
W, KVB = P * BY, 2 * L * KVH * HD * BY
GPUS = {  # dense BF16 FLOP/s, HBM B/s, NVLink B/s per direction
    "a100-80g": (312e12, 2.039e12, 300e9),
    "h100-sxm": (989e12, 3.35e12, 450e9),
}


def step(gpu, t, prefill, decode, context, mfu, bwu, overhead, alpha):
    flops, hbm, link = GPUS[gpu]
    tokens = prefill + decode
    comm = 0.0 if t == 1 else 2 * L * (alpha + 2 * (t - 1) / t * tokens * HID * BY / link)
    compute = (2 * P * tokens + 4 * L * HEADS * HD * context) / (t * flops * mfu)
    memory = (W + KVB * (context + prefill)) / (t * hbm * bwu)
    return overhead + comm + max(compute, memory)


rows = []
with open("splitwise-llama2-70b.csv") as f:
    for r in csv.DictReader(f):
        t, p, b, n = (int(r[k]) for k in ("tensor_parallel", "prompt_size", "batch_size", "token_size"))
        if t == 2 and b == 64:
            continue
        rows.append((r["gpu"], t, p, b, n, float(r["prompt_time_ms"]) / 1e3, float(r["token_time_ms"]) / 1e3))


def errors(params):
    out = []
    for gpu, t, p, b, n, prompt, token in rows:
        out.append(("prefill", gpu, step(gpu, t, b * p, 0, 0, *params) / prompt - 1))
        out.append(("decode", gpu, step(gpu, t, 0, b, b * (p + n / 2), *params) / token - 1))
    return out


def loss(params):
    return math.sqrt(np.mean([math.log1p(e) ** 2 for _, _, e in errors(params)]))


grid = itertools.product(
    np.arange(0.20, 1.001, 0.02),      # mfu
    np.arange(0.50, 1.001, 0.05),      # bandwidth_utilization
    np.arange(0.0, 0.0301, 0.0005),    # overhead, s
    np.arange(0.0, 61e-6, 5e-6),       # allreduce_latency, s
)
best = min(grid, key=loss)
print("mfu %.2f  bandwidth_utilization %.2f  overhead %.1f ms  allreduce_latency %.0f us  (rms log error %.3f)"
      % (best[0], best[1], best[2] * 1e3, best[3] * 1e6, loss(best)))
for gpu in GPUS:
    for kind in ("prefill", "decode", None):
        e = np.abs([x for k, g, x in errors(best) if g == gpu and (kind is None or k == kind)])
        print("%-9s %-8s n=%3d  median |error| %4.1f%%  p90 %4.1f%%  max %4.1f%%"
              % (gpu, kind or "all", len(e), 100 * np.median(e), 100 * np.percentile(e, 90), 100 * e.max()))
