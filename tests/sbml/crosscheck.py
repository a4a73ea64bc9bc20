#!/usr/bin/env python3
"""Cross-checks Tabula's SBML export against libRoadRunner.

For every built-in scenario (or those named with --only):

1. `tabula export sbml <scenario>` writes the model, the scenario's parameter values and its doses
   (as events) to SBML Level 3 Version 1;
2. libSBML reads the document and runs every consistency check, units included: any error fails
   the scenario, warnings are counted by id and listed at the end;
3. `tabula simulate <scenario> --states` runs the scenario at tight tolerances;
4. libRoadRunner simulates the document at tight tolerances on the same output times;
5. every output and every state is compared: at each time
       |tabula - roadrunner| <= RTOL * max(|tabula|, |roadrunner|) + FLOOR * max_t |tabula| + ZERO
   with RTOL = 1e-5, FLOOR = 1e-9 and ZERO = 1e-12 (in the observable's unit) by default. The
   relative floor only matters where a series has decayed by nine orders of magnitude below its
   own peak (cells after depletion, a drug washed out), where both solvers' absolute tolerances
   dominate; ZERO only where a series is zero up to round-off (a score minus its own baseline
   in an untreated steady state is 0 in exact arithmetic and +-1e-15 in either simulator).

Prints one line per scenario and ends with "N passed, N failed"; exits 1 if any failed.
Run it through tests/sbml/run.sh, which sets up the Python environment and builds tabula.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import libsbml
import numpy as np
import roadrunner

# Solver tolerances used on both sides: tight enough that the solvers' own errors are far below
# the comparison tolerance.
SOLVER_RTOL = 1e-10
SOLVER_ATOL = 1e-12


def set_absolute_tolerance(rr: roadrunner.RoadRunner, atol: float) -> None:
    """One absolute tolerance for every state, as Tabula uses.

    Given a single number, libRoadRunner scales it by each state's value when an integration
    (re)starts, so the tolerance of a state that decays towards zero collapses with it and CVODE
    stops with CV_TOO_MUCH_ACC or "Initial ewt has component(s) equal to zero" (roadrunner issue
    #1349). A vector is used as given.
    """
    n = len(set(rr.model.getFloatingSpeciesIds()) | set(rr.getRateRuleIds()))
    rr.integrator.setValue("absolute_tolerance", [atol] * n)


def list_scenarios(tabula: str) -> list[str]:
    """Names of the built-in scenarios, from `tabula scenarios`."""
    out = subprocess.run([tabula, "scenarios"], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    names = []
    seen_rule = False
    for line in lines:
        if line.startswith("---"):
            seen_rule = True
            continue
        if seen_rule and line.strip():
            names.append(line.split()[0])
    return names


def check_document(path: str) -> tuple[list[str], dict[int, tuple[int, str]], libsbml.SBMLDocument]:
    """Runs libSBML's consistency checks: (errors, {warning id: (count, first message)}, doc)."""
    doc = libsbml.readSBMLFromFile(path)
    for cat in (
        libsbml.LIBSBML_CAT_GENERAL_CONSISTENCY,
        libsbml.LIBSBML_CAT_IDENTIFIER_CONSISTENCY,
        libsbml.LIBSBML_CAT_UNITS_CONSISTENCY,
        libsbml.LIBSBML_CAT_MATHML_CONSISTENCY,
        libsbml.LIBSBML_CAT_SBO_CONSISTENCY,
        libsbml.LIBSBML_CAT_OVERDETERMINED_MODEL,
        libsbml.LIBSBML_CAT_MODELING_PRACTICE,
    ):
        doc.setConsistencyChecks(cat, True)
    doc.checkConsistency()
    errors: list[str] = []
    warnings: dict[int, tuple[int, str]] = {}
    for i in range(doc.getNumErrors()):
        e = doc.getError(i)
        msg = " ".join(e.getMessage().split())
        if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR:
            errors.append(f"{e.getErrorId()} line {e.getLine()}: {msg}")
        else:
            n, first = warnings.get(e.getErrorId(), (0, msg))
            warnings[e.getErrorId()] = (n + 1, first)
    return errors, warnings, doc


def read_timecourse(path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A long table (patient, time, observable, value) as times and one series per observable."""
    times: list[float] = []
    series: dict[str, list[float]] = collections.defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            t = float(row["time"])
            if not times or t != times[-1]:
                times.append(t)
            # An empty cell is an output Tabula reports as undefined there (`defined_if`).
            v = row["value"]
            series[row["observable"]].append(float(v) if v != "" else float("nan"))
    return np.array(times), {k: np.array(v) for k, v in series.items()}


def compare(a: np.ndarray, b: np.ndarray, rtol: float, floor: float, zero: float) -> tuple[float, float, int]:
    """(worst error / allowance, worst relative error where |value| >= 1e-3 x the series'
    largest, index of the worst). Points where Tabula reports the output as undefined (`NaN`:
    an output's `defined_if` condition fails, e.g. a share of a population below the detection
    limit) are not compared; the SBML document has no such condition."""
    defined = np.flatnonzero(np.isfinite(a))
    if defined.size < a.size:
        if defined.size == 0:
            return 0.0, 0.0, 0
        r, rel, i = compare(a[defined], b[defined], rtol, floor, zero)
        return r, rel, int(defined[i])
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    allowed = rtol * np.maximum(np.abs(a), np.abs(b)) + floor * scale + zero
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(allowed > 0, diff / allowed, np.where(diff > 0, np.inf, 0.0))
        big = np.maximum(np.abs(a), np.abs(b))
        rel = np.where(
            (big >= 1e-3 * scale) & (big >= 1e3 * zero),
            diff / big,
            0.0,
        )
    if not np.all(np.isfinite(b)):
        return float("inf"), float("inf"), int(np.argmax(~np.isfinite(b)))
    i = int(np.argmax(ratio))
    return float(ratio[i]), float(np.max(rel)), i


def quiet_worker() -> None:
    """Worker processes: CVODE prints warnings (a tiny step right after a dose event) straight
    to the process's output; failures still surface as exceptions, so silence them."""
    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def run_one(name: str, tabula: str, workdir: str, rtol: float, floor: float, zero: float) -> dict:
    started = time.perf_counter()
    safe = name.replace("/", "__")
    xml = os.path.join(workdir, safe + ".xml")
    result: dict = {"scenario": name, "ok": False}
    try:
        subprocess.run(
            [tabula, "export", "sbml", name, "-o", xml], check=True, capture_output=True, text=True
        )
        errors, warnings, doc = check_document(xml)
        result["sbml_errors"] = errors
        result["sbml_warnings"] = {str(k): v for k, v in warnings.items()}
        model = doc.getModel()
        result["states"] = model.getNumSpecies()
        result["events"] = model.getNumEvents()

        outdir = os.path.join(workdir, safe)
        subprocess.run(
            [tabula, "simulate", name, "--out", outdir, "--states", "--plot", "none", "--quiet",
             "--rtol", str(SOLVER_RTOL), "--atol", str(SOLVER_ATOL)],
            check=True, capture_output=True, text=True,
        )
        sub = os.listdir(outdir)
        times, series = read_timecourse(os.path.join(outdir, sub[0], "timecourse.csv"))

        # Tabula names are kept in the SBML `name` attribute (ids differ only for reserved words).
        ids: dict[str, str] = {}
        for lst in (model.getListOfSpecies(), model.getListOfParameters()):
            for x in lst:
                ids[x.getName() or x.getId()] = x.getId()
        observables = [n for n in series if n in ids]
        missing = [n for n in series if n not in ids]
        if missing:
            raise RuntimeError(f"observables missing from the SBML document: {missing}")

        rr = roadrunner.RoadRunner(xml)
        rr.integrator.relative_tolerance = SOLVER_RTOL
        set_absolute_tolerance(rr, SOLVER_ATOL)
        rr.integrator.maximum_num_steps = 1_000_000
        res = rr.simulate(times=list(times), selections=["time"] + [ids[n] for n in observables])
        res = np.asarray(res)
        if res.shape[0] != len(times) or np.max(np.abs(res[:, 0] - times)) > 1e-9 * max(1.0, times[-1]):
            raise RuntimeError("libRoadRunner returned different output times")

        worst = (0.0, 0.0, "", 0.0)
        for j, n in enumerate(observables):
            ratio, rel, i = compare(series[n], res[:, j + 1], rtol, floor, zero)
            if ratio > worst[0] or not worst[2]:
                worst = (ratio, max(rel, worst[1]), n, float(times[i]))
            else:
                worst = (worst[0], max(rel, worst[1]), worst[2], worst[3])
        result.update(
            compared=len(observables),
            outputs=len(observables) - result["states"],
            times=len(times),
            worst_ratio=worst[0],
            max_rel=worst[1],
            worst_observable=worst[2],
            worst_time=worst[3],
        )
        result["ok"] = not errors and worst[0] <= 1.0
    except subprocess.CalledProcessError as e:
        result["error"] = f"{' '.join(e.cmd[:3])}: exit {e.returncode}: {e.stderr.strip()[:500]}"
    except Exception as e:  # report and go on with the other scenarios
        result["error"] = f"{type(e).__name__}: {e}"
    result["seconds"] = time.perf_counter() - started
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tabula", required=True, help="the tabula binary")
    ap.add_argument("--only", nargs="*", help="scenario names (default: every built-in scenario)")
    ap.add_argument("--rtol", type=float, default=1e-5, help="relative agreement required")
    ap.add_argument("--floor", type=float, default=1e-9,
                    help="absolute floor, as a fraction of each series' largest |value|")
    ap.add_argument("--zero", type=float, default=1e-12,
                    help="absolute floor in each observable's unit (round-off around zero)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", help="keep the exported documents and tables in this directory")
    ap.add_argument("--report", help="write the results as JSON to this file")
    args = ap.parse_args()

    names = args.only or list_scenarios(args.tabula)
    tmp = None
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        workdir = args.keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix="tabula-sbml-")
        workdir = tmp.name
    print(f"libRoadRunner {roadrunner.__version__}, libSBML {libsbml.getLibSBMLDottedVersion()}; "
          f"{len(names)} scenarios; agreement: rtol {args.rtol:g}, floor {args.floor:g} x max|series| + {args.zero:g}")
    results = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs), initializer=quiet_worker) as pool:
        futures = [pool.submit(run_one, n, args.tabula, workdir, args.rtol, args.floor, args.zero) for n in names]
        for fut in futures:
            r = fut.result()
            results.append(r)
            if "error" in r:
                print(f"FAIL {r['scenario']:<36} {r['error']}")
                continue
            status = "ok  " if r["ok"] else "FAIL"
            print(
                f"{status} {r['scenario']:<36} {r['states']:>3} states {r['outputs']:>3} outputs "
                f"{r['events']:>4} events {r['times']:>5} times  max rel err {r['max_rel']:.1e}*  "
                f"worst/allowed {r['worst_ratio']:.2f} ({r['worst_observable']} at t={r['worst_time']:g})  "
                f"{len(r['sbml_errors'])} SBML errors  {r['seconds']:.1f}s"
            )
            for e in r["sbml_errors"][:5]:
                print(f"     SBML error {e}")
    warnings: dict[str, list] = {}
    for r in results:
        for k, (n, msg) in r.get("sbml_warnings", {}).items():
            w = warnings.setdefault(k, [0, 0, msg])
            w[0] += n
            w[1] += 1
    if warnings:
        print("\nlibSBML warnings (id: count in documents; first message):")
        for k, (n, docs, msg) in sorted(warnings.items()):
            print(f"  {k}: {n} in {docs} documents; {msg[:300]}")
    if args.report:
        with open(args.report, "w") as f:
            json.dump(results, f, indent=1)
    passed = sum(r["ok"] for r in results)
    failed = len(results) - passed
    worst = max((r.get("max_rel", 0.0) for r in results if "max_rel" in r), default=0.0)
    print(f"\n* relative error where |value| >= 1e-3 x the series' peak; worst over all scenarios "
          f"and observables: {worst:.2e}")
    print(f"{passed} passed, {failed} failed")
    if tmp:
        tmp.cleanup()
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
