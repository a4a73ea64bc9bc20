#!/usr/bin/env python3
"""A virtual population split into deterministic shards over a Dask cluster.

Each shard is a pure function of (scenario text, population seed, patient range): its patients'
parameters are drawn from per-patient random streams (``numpy.random.default_rng([seed, i])``
for patient ``i``), so a patient gets the same parameters whichever shard or worker runs it.
Every task simulates its shard with ``tabula.simulate_population`` (in-process, GIL released)
and writes one Parquet file; the driver then concatenates the shards in patient order. The
merged table is identical to a single-process run of the whole population (the test
``python/tests/test_dask_example.py`` checks it).

    pip install "./python[dask]"
    python examples/dask_trial.py --patients 2000 --shards 8 --workers 2 --out results/

The same shard function runs unchanged as a Slurm array task (see docs/scale-out.md).
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import tabula

# Inter-individual variability of the example: log-normal, coefficient of variation.
VARIABILITY = {"cd19_rho_max": 0.3, "cd19_k_kill": 0.3, "WT": 0.15}
ENDPOINT_DAYS = [28.0, 90.0, 180.0, 365.0]
OBSERVABLES = ["b_blood", "anti_dsDNA", "sledai_2k", "cd19_car_blood"]


def patient_parameters(scenario: tabula.Scenario, first: int, last: int, seed: int) -> pd.DataFrame:
    """Parameters of patients ``first .. last-1``: one random stream per patient."""
    base = scenario.parameters
    rows = []
    for i in range(first, last):
        rng = np.random.default_rng([seed, i])
        row = {}
        for name, cv in VARIABILITY.items():
            sigma = np.sqrt(np.log(1.0 + cv * cv))
            row[name] = base[name] * np.exp(sigma * rng.standard_normal() - sigma * sigma / 2)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(VARIABILITY), index=pd.RangeIndex(first, last))


def shard_range(index: int, count: int, patients: int) -> tuple[int, int]:
    """Contiguous patient range of shard ``index`` of ``count`` (sizes differ by at most 1)."""
    return index * patients // count, (index + 1) * patients // count


def run_shard(scenario: tabula.Scenario, index: int, count: int, patients: int, seed: int,
              out: str, threads: int | None = 1) -> str:
    """Simulates one shard and writes ``out/shard-<index>-of-<count>.parquet``; returns the path."""
    first, last = shard_range(index, count, patients)
    params = patient_parameters(scenario, first, last, seed)
    values, status = tabula.simulate_population(
        scenario, params, output_times=ENDPOINT_DAYS, observables=OBSERVABLES, threads=threads
    )
    values["patient"] += first
    status["patient"] += first
    table = values.merge(status[["patient", "status"]], on="patient")
    path = Path(out) / f"shard-{index:05d}-of-{count:05d}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)  # a shard file is complete or absent
    return str(path)


def merge(paths: list[str]) -> pd.DataFrame:
    """Concatenates shard tables in patient order."""
    frames = [pd.read_parquet(p) for p in sorted(paths)]
    merged = pd.concat(frames, ignore_index=True)
    return merged.sort_values(["patient", "time"], kind="stable", ignore_index=True)


def run_on_dask(scenario: tabula.Scenario, patients: int, shards: int, workers: int, seed: int,
                out: str) -> pd.DataFrame:
    """Runs every shard as a task on a local cluster of worker processes and merges them."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        # The scenario travels to the workers as its text (it pickles as text).
        futures = client.map(run_shard, [scenario] * shards, range(shards), [shards] * shards,
                             [patients] * shards, [seed] * shards, [out] * shards,
                             pure=False)
        paths = client.gather(futures)
    return merge(paths)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="sle/cd19_car_t")
    ap.add_argument("--patients", type=int, default=400)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default=None, help="directory for shard and merged Parquet files")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="tabula-dask-")
    os.makedirs(out, exist_ok=True)
    scenario = tabula.Scenario(args.scenario)
    assert pickle.loads(pickle.dumps(scenario)).text == scenario.text
    merged = run_on_dask(scenario, args.patients, args.shards, args.workers, args.seed, out)
    merged.to_parquet(Path(out) / "merged.parquet", index=False)
    ok = (merged.drop_duplicates("patient").status == "ok").sum()
    print(f"{args.patients} patients in {args.shards} shards on {args.workers} workers: "
          f"{ok} ok; wrote {out}/merged.parquet")
    print(merged[merged.time == ENDPOINT_DAYS[-1]].groupby("observable", observed=True)
          .value.describe()[["mean", "25%", "50%", "75%"]])


if __name__ == "__main__":
    main()
