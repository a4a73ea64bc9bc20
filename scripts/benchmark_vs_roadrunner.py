#!/usr/bin/env python3
"""Tabula against libRoadRunner and scipy's BDF on the same exported models, in one run.

For each scenario, the model with the scenario's parameters and doses is exported to SBML by
Tabula, and the same two-year problem is solved three ways at the same tolerances:

* Tabula, through the Python package (the compiled model is reused across runs);
* libRoadRunner (LLVM-compiled SBML, CVODE), loading the exported document once and resetting
  it between runs;
* scipy's ``solve_ivp(method="BDF")`` on a Python right-hand side generated from the same
  document (``scripts/sbml_python.py``), stopping at every dose as the others do.

Cases:

1. one patient, two years, daily output (731 times);
2. one patient, two years, endpoint only;
3. a population of N patients (default 1000), endpoint only, with log-normal variation of a few
   model parameters (20% CV, seeded); Tabula runs it on 1 thread (per-core comparison) and on
   every core, libRoadRunner in a Python loop, scipy on a subset (its per-patient time is
   extrapolated, and said so).

The ratios printed compare wall-clock times measured in this one process, on this machine,
interleaved so that background load affects all tools alike. Model loading (libRoadRunner's
LLVM compile, Tabula's tape compile, scipy's code generation) is timed separately and not
counted per patient. Results go to stdout as a table and to --json.

    python scripts/benchmark_vs_roadrunner.py            # defaults: see --help
    python scripts/benchmark_vs_roadrunner.py --patients 200 --scenarios reference/pk_bolus
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import libsbml  # noqa: E402
import roadrunner  # noqa: E402
import scipy  # noqa: E402

import tabula  # noqa: E402
from sbml_python import PythonModel, simulate_bdf  # noqa: E402

DEFAULT_SCENARIOS = [
    "sle/cd19_car_t",
    "sle/teclistamab",
    "as/secukinumab_150mg",
    "as/trbv9_car_t_what_if",
    "reference/pk_two_compartment",
    "reference/pk_repeated",
]

DAY = {"day": 1.0, "d": 1.0, "days": 1.0, "h": 24.0, "hr": 24.0, "hour": 24.0, "min": 1440.0,
       "s": 86400.0, "week": 1 / 7, "wk": 1 / 7}


def best_of(fn, repeat: int) -> float:
    """Median wall time of `repeat` calls (after one warm-up), in seconds."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def varied_parameters(sc: tabula.Scenario, xml: str, n: int, seed: int) -> tuple[dict[str, np.ndarray], bool]:
    """Log-normal (20% CV, seeded) variation of up to four positive, dimensioned model
    parameters. Weight and body-surface area are left alone (dose amounts are numbers in the
    exported document). Parameters that no initial assignment uses are preferred: libRoadRunner
    can then change them with a plain `setValue` + `reset()`; changing one that an initial
    assignment uses needs `init(...)`, which makes libRoadRunner regenerate the model.
    Returns the values and whether `init(...)` is needed."""
    rng = np.random.default_rng(seed)
    doc = libsbml.readSBMLFromString(xml)
    m = doc.getModel()
    in_ia = set()
    for ia in m.getListOfInitialAssignments():
        stack = [ia.getMath()]
        while stack:
            x = stack.pop()
            if x.getType() == libsbml.AST_NAME:
                in_ia.add(x.getName())
            stack.extend(x.getChild(i) for i in range(x.getNumChildren()))
    skip = {"WT", "BSA", "HT", "AGE"}
    candidates = [p for p in sc.model.parameters
                  if p["name"] not in skip and p["value"] > 0 and p["unit"] != "1"]
    # Rate constants first: they change the dynamics, not just a read-out.
    candidates.sort(key=lambda p: not p["unit"].startswith("1/"))
    free = [p for p in candidates if p["name"] not in in_ia]
    chosen = (free or candidates)[:4]
    sigma = np.sqrt(np.log(1 + 0.2**2))
    values = {p["name"]: p["value"] * rng.lognormal(-sigma**2 / 2, sigma, n) for p in chosen}
    return values, not free


def rr_ids(xml: str, names: list[str]) -> list[str]:
    doc = libsbml.readSBMLFromString(xml)
    m = doc.getModel()
    ids = {}
    for lst in (m.getListOfSpecies(), m.getListOfParameters()):
        for x in lst:
            ids[x.getName() or x.getId()] = x.getId()
    return [ids[n] for n in names]


def bench(name: str, args) -> dict:
    sc = tabula.Scenario(name)
    per_day = DAY[sc.time_unit]
    end = 730.0 * per_day
    daily = [i * per_day for i in range(731)]
    outputs = sc.outputs
    rtol, atol = args.rtol, args.atol
    res: dict = {"scenario": name, "states": len(sc.states), "outputs": len(outputs),
                 "doses": len(sc.doses), "time_unit": sc.time_unit}

    # Loading.
    t0 = time.perf_counter()
    xml = sc.to_sbml()
    tabula.simulate(sc, output_times=[0.0])  # compiles the model once
    res["load_tabula_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rr = roadrunner.RoadRunner(xml)
    res["load_roadrunner_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pm = PythonModel(xml)
    res["load_scipy_s"] = time.perf_counter() - t0
    res["events"] = rr.model.getNumEvents()
    ids = rr_ids(xml, outputs)
    rr.integrator.relative_tolerance = rtol
    # One absolute tolerance per state, as Tabula uses (a scalar is rescaled by libRoadRunner by
    # each state's value at every restart, which fails on states that decay to zero: roadrunner
    # issue #1349).
    nstate = len(set(rr.model.getFloatingSpeciesIds()) | set(rr.getRateRuleIds()))
    rr.integrator.setValue("absolute_tolerance", [atol] * nstate)
    rr.integrator.maximum_num_steps = 100_000

    def tab_daily():
        return tabula._tabula.simulate(sc, output_times=daily, rtol=rtol, atol=atol)

    def tab_end():
        return tabula._tabula.simulate(sc, output_times=[end], rtol=rtol, atol=atol)

    def rr_daily():
        rr.reset()
        return rr.simulate(times=daily, selections=["time"] + ids)

    def rr_end():
        rr.reset()
        return rr.simulate(0, end, 2, selections=["time"] + ids)

    def sp_daily():
        return simulate_bdf(pm, daily, ids, rtol=rtol, atol=atol)

    def sp_end():
        return simulate_bdf(pm, [0.0, end], ids, rtol=rtol, atol=atol)

    # Agreement of the three at the endpoint (sanity: same problem, same tolerances).
    _, _, vb, _, _ = tab_end()
    tab_vals = np.frombuffer(vb, dtype=np.float64)
    rr_vals = np.asarray(rr_end())[-1, 1:]
    sp_vals = sp_end()[-1]
    scale = np.maximum(np.abs(tab_vals), 1e-12)
    res["endpoint_maxrel_roadrunner"] = float(np.max(np.abs(rr_vals - tab_vals) / scale))
    res["endpoint_maxrel_scipy"] = float(np.max(np.abs(sp_vals - tab_vals) / scale))

    r = args.repeat
    res["daily_tabula_ms"] = 1e3 * best_of(tab_daily, r)
    res["daily_roadrunner_ms"] = 1e3 * best_of(rr_daily, r)
    res["daily_scipy_ms"] = 1e3 * best_of(sp_daily, max(1, r // 5))
    res["endpoint_tabula_ms"] = 1e3 * best_of(tab_end, r)
    res["endpoint_roadrunner_ms"] = 1e3 * best_of(rr_end, r)
    res["endpoint_scipy_ms"] = 1e3 * best_of(sp_end, max(1, r // 5))

    # Population, endpoint only.
    n = args.patients
    pop, needs_init = varied_parameters(sc, xml, n, seed=20260801)
    res["population_parameters"] = list(pop)
    res["population_roadrunner_uses_init"] = needs_init
    res["patients"] = n
    t0 = time.perf_counter()
    _, status1 = tabula.simulate_population(sc, pop, output_times=[end], threads=1, rtol=rtol, atol=atol)
    res["population_tabula_1thread_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, status = tabula.simulate_population(sc, pop, output_times=[end], threads=args.threads, rtol=rtol, atol=atol)
    res["population_tabula_threads_s"] = time.perf_counter() - t0
    res["population_tabula_failed"] = int((status.status != "ok").sum())
    pids = rr_ids(xml, list(pop))
    # Changing a parameter through init(...) regenerates libRoadRunner's model (a fraction of a
    # second each): run fewer patients that way and extrapolate.
    n_rr = min(n, args.roadrunner_init_patients) if needs_init else n
    res["population_roadrunner_patients_run"] = n_rr
    t0 = time.perf_counter()
    failed = 0
    for i in range(n_rr):
        for pid, vals in zip(pids, pop.values()):
            rr.setValue(f"init({pid})" if needs_init else pid, float(vals[i]))
        rr.reset()
        try:
            rr.simulate(0, end, 2, selections=["time"] + ids)
        except RuntimeError:
            failed += 1
    res["population_roadrunner_s"] = (time.perf_counter() - t0) * n / n_rr
    res["population_roadrunner_failed"] = failed
    # What libRoadRunner pays to change a parameter that an initial assignment uses.
    any_ia = [p for p in sc.model.parameters if p["name"] not in pop and p["value"] > 0]
    if any_ia:
        t0 = time.perf_counter()
        rr.setValue(f"init({rr_ids(xml, [any_ia[0]['name']])[0]})", any_ia[0]["value"])
        res["roadrunner_init_change_s"] = time.perf_counter() - t0
    m = min(n, args.scipy_patients)
    t0 = time.perf_counter()
    for i in range(m):
        pm.set_parameters({pid: float(vals[i]) for pid, vals in zip(pids, pop.values())})
        sp_end()
    res["population_scipy_s_per_patient"] = (time.perf_counter() - t0) / m
    res["population_scipy_patients_run"] = m
    pm.set_parameters({})
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", nargs="*", default=DEFAULT_SCENARIOS)
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--scipy-patients", type=int, default=10,
                    help="patients actually run with scipy (its per-patient time is extrapolated)")
    ap.add_argument("--roadrunner-init-patients", type=int, default=20,
                    help="patients run with libRoadRunner when parameters must change through "
                         "init() (its per-patient time is extrapolated)")
    ap.add_argument("--repeat", type=int, default=20, help="timed repetitions per single-patient case")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=1e-9)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    env = {
        "tabula": tabula.__version__,
        "libroadrunner": roadrunner.__version__,
        "libsbml": libsbml.getLibSBMLDottedVersion(),
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "rtol": args.rtol,
        "atol": args.atol,
    }
    print("# " + ", ".join(f"{k} {v}" for k, v in env.items()))
    results = []
    for name in args.scenarios:
        r = bench(name, args)
        results.append(r)
        n = r["patients"]
        print(f"\n## {name}: {r['states']} states, {r['outputs']} outputs, {r['events']} dose events "
              f"(load: tabula {r['load_tabula_s']*1e3:.0f} ms, roadrunner {r['load_roadrunner_s']*1e3:.0f} ms)")
        print(f"endpoint agreement: roadrunner {r['endpoint_maxrel_roadrunner']:.1e}, "
              f"scipy {r['endpoint_maxrel_scipy']:.1e} (max relative difference to tabula)")
        print(f"{'case':<28}{'tabula':>12}{'roadrunner':>12}{'scipy BDF':>12}{'rr/tabula':>11}{'scipy/tabula':>14}")
        for case, key in (("1 patient, daily output", "daily"), ("1 patient, endpoint", "endpoint")):
            t, rrt, sp = r[f"{key}_tabula_ms"], r[f"{key}_roadrunner_ms"], r[f"{key}_scipy_ms"]
            print(f"{case:<28}{t:>10.3f}ms{rrt:>10.3f}ms{sp:>10.1f}ms{rrt/t:>10.1f}x{sp/t:>13.0f}x")
        t1 = r["population_tabula_1thread_s"]
        tn = r["population_tabula_threads_s"]
        rrp = r["population_roadrunner_s"]
        spp = r["population_scipy_s_per_patient"] * n
        via = (f"; roadrunner: init() + regeneration per patient, extrapolated from "
               f"{r['population_roadrunner_patients_run']}" if r["population_roadrunner_uses_init"] else "")
        print(f"{f'{n} patients, endpoint':<28}{t1:>11.3f}s{rrp:>11.3f}s{spp:>11.1f}s{rrp/t1:>10.1f}x{spp/t1:>13.0f}x"
              f"   (tabula on {args.threads} threads: {tn:.3f}s; scipy extrapolated from "
              f"{r['population_scipy_patients_run']} patients){via}")
        per_patient = tn / n
        print(f"projected 1e6 patients, endpoint only, {args.threads} threads: {per_patient*1e6/60:.1f} min")
    env["load_average_after"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
