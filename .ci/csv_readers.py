#!/usr/bin/env python3
"""Every CSV surge writes reads in polars and pandas with no dtype overrides,
with the types docs/outputs.md gives, and the outputs of different scenarios
concatenate.

    python3 .ci/csv_readers.py target/release/surge

Needs polars and pandas (`pip install polars pandas`). Exits 1 on the first
mismatch, saying which file, column, type found and type documented.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
POLARS = {"integer": pl.Int64, "float": pl.Float64, "text": pl.String}
# pandas 3 reads text as `str`, earlier versions as `object`.
PANDAS = {"integer": {"int64"}, "float": {"float64"}, "text": {"object", "str"}}


def documented_types():
    """{file stem: {column: type}} from the tables of docs/outputs.md."""
    types, current = {}, None
    for line in (ROOT / "docs/outputs.md").read_text().splitlines():
        heading = re.match(r"## `(\w+)\.csv`", line)
        if heading:
            current = heading.group(1)
            continue
        if current and line.startswith("| `"):
            cells = [c.strip() for c in line.split("|")]
            kind = cells[2]
            if kind not in POLARS:
                sys.exit(f"docs/outputs.md: {current}.csv: unknown type {kind!r} in {line!r}")
            for column in re.findall(r"`([^`]+)`", cells[1]):
                types.setdefault(current, {})[column] = kind
    return types


def sweep_types(columns, grid_columns):
    """sweep.csv's types, by the rule docs/outputs.md states."""
    types = {}
    for c in columns:
        if c in ("scenario", "class", "pool"):
            types[c] = "text"
        elif c in ("point", "n"):
            types[c] = "integer"
        elif re.search(r"_(mean|sd|ci_low|ci_high)$", c):
            types[c] = "float"
        elif c not in grid_columns:
            sys.exit(f"sweep.csv: column {c!r} is not documented")
    return types


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def check_file(path, expected):
    frame = pl.read_csv(path)
    pframe = pd.read_csv(path)
    for column, kind in expected.items():
        if column not in frame.columns:
            fail(f"{path}: documented column {column} is missing")
        got = frame.schema[column]
        if got != POLARS[kind]:
            fail(f"{path}: polars reads {column} as {got}, documented {kind}")
        pgot = str(pframe[column].dtype)
        if pgot not in PANDAS[kind]:
            fail(f"{path}: pandas reads {column} as {pgot}, documented {kind}")
    undocumented = [c for c in frame.columns if c not in expected]
    return frame, pframe, undocumented


def main():
    surge = Path(sys.argv[1]).resolve()
    docs = documented_types()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        def surge_run(*args, ok=(0,)):
            r = subprocess.run([str(surge), *args], cwd=ROOT, capture_output=True, text=True)
            if r.returncode not in ok:
                fail(f"surge {' '.join(args)} exited {r.returncode}: {r.stderr}")

        quiet = ["--charts", "none", "--quiet"]
        runs = {
            "mmc": ["scenarios/mmc.toml", "--trace", "50"],
            "retry": ["scenarios/retry-storm.toml"],
            "launch": ["scenarios/launch-day.toml", "--set", "duration=2h", "--trace", "20"],
            "shared": ["scenarios/shared-pool.toml", "--replications", "2"],
            "pipeline": ["scenarios/launch-pipeline.toml", "--set", "duration=2h",
                         "--replications", "2"],
            "pipeline-short": ["scenarios/launch-pipeline.toml", "--set", "duration=90m"],
            "serving": ["scenarios/chat-serving.toml", "--set", "duration=10m"],
        }
        for name, args in runs.items():
            surge_run("run", *args, "--out", str(tmp / name), *quiet)
        surge_run("sweep", "scenarios/mmc.toml", "--grid", "pool.gpu.gpus=8,9",
                  "--replications", "2", "--out", str(tmp / "sweep-int"), *quiet)
        surge_run("sweep", "scenarios/mmc.toml", "--grid", "class.jobs.arrivals.rate=6/s,7/s",
                  "--replications", "1", "--out", str(tmp / "sweep-text"), *quiet)
        surge_run("plan", "scenarios/mmc.toml", "--vary", "pool.gpu.gpus", "--min", "8",
                  "--max", "12", "--replications", "2", "--out", str(tmp / "plan"), "--quiet",
                  ok=(0, 1))
        surge_run("compare", "scenarios/mmc.toml", "--b", "pool.gpu.gpus=9",
                  "--replications", "2", "--out", str(tmp / "compare"), "--quiet", ok=(0, 1))

        frames = {}
        checked = 0
        for path in sorted(tmp.rglob("*.csv")):
            stem = path.stem
            if stem in docs:
                expected = docs[stem]
            elif stem == "sweep":
                columns = pl.read_csv(path).columns
                grid = [c for c in columns if "." in c]
                expected = sweep_types(columns, grid)
            else:
                expected = {}
            frame, pframe, undocumented = check_file(path, expected)
            if stem in docs and undocumented:
                fail(f"{path}: columns not in docs/outputs.md: {undocumented}")
            # Files without a documented table (plan.csv, compare.csv): the
            # two readers must agree, and no number may read as text.
            for column in undocumented:
                got, pgot = frame.schema[column], str(pframe[column].dtype)
                agree = {pl.Int64: {"int64"}, pl.Float64: {"float64"},
                         pl.String: {"object", "str"}, pl.Boolean: {"bool"}}.get(got, set())
                if pgot not in agree:
                    fail(f"{path}: {column}: polars {got}, pandas {pgot}")
            frames.setdefault(stem, []).append((path, frame, pframe))
            checked += 1

        for stem in ("summary", "pools", "timeseries", "sweep", "requests", "stages",
                     "stage_series"):
            parts = frames.get(stem, [])
            if len(parts) < 2:
                fail(f"expected {stem}.csv from two runs, found {len(parts)}")
            if stem == "sweep":
                # Different grids have different path columns: the shared ones stack.
                shared = set.intersection(*(set(f.columns) for _, f, _ in parts))
                parts = [(p, f.select([c for c in f.columns if c in shared]),
                          pf[[c for c in pf.columns if c in shared]]) for p, f, pf in parts]
            stacked = pl.concat([f for _, f, _ in parts], how="vertical")
            pstacked = pd.concat([pf for _, _, pf in parts], ignore_index=True)
            for column in stacked.columns:
                if pstacked[column].dtype != parts[0][2][column].dtype:
                    fail(f"{stem}.csv: pandas concat changed {column} to {pstacked[column].dtype}")
            print(f"{stem}.csv: {len(parts)} files concatenate ({stacked.height} rows)")
        print(f"ok: {checked} CSV files read by polars {pl.__version__} and pandas "
              f"{pd.__version__} with the documented types")


if __name__ == "__main__":
    main()
