"""Tabula from Python: in silico trials of immune-reset therapies in autoimmune disease.

The simulator is Rust; this package calls it in-process, with the GIL released while it runs,
and returns pandas DataFrames (or Arrow tables).

>>> import tabula
>>> df = tabula.simulate("sle/cd19_car_t", params={"WT": 60}, duration="1 year")
>>> df[df.observable == "b_blood"].tail(1)

Objects:

* :class:`Scenario` (one patient, one regimen) and :class:`Model` are built from a built-in name,
  a file path or TOML text, and pickle as text, so they travel to worker processes;
* :func:`simulate` runs a scenario: a long table ``time, observable, value`` (or a wide one);
* :func:`simulate_population` runs a scenario for a table of parameter sets (virtual
  patients) in parallel;
* :func:`trial` runs a virtual trial (arms x virtual population) and returns the per-patient
  endpoints and the per-arm summary with 95% confidence intervals;
* :func:`scenarios`, :func:`models` and :func:`trials` list what is built in.

Malformed input raises :class:`TabulaError` (a ``ValueError``) whose message names the file,
line and field; a run that fails raises :class:`SimulationError` (a ``RuntimeError``).
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import _tabula
from ._tabula import Model, Scenario, SimulationError, TabulaError, __version__

__all__ = [
    "Model",
    "Scenario",
    "SimulationError",
    "TabulaError",
    "__version__",
    "models",
    "scenarios",
    "simulate",
    "simulate_population",
    "to_sbml",
    "trial",
    "trials",
]

ScenarioLike = Union[Scenario, str]


def _scenario(scenario: ScenarioLike) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, str):
        return Scenario(scenario)
    raise TypeError(
        f"expected a tabula.Scenario, a built-in scenario name, a path or TOML text; got {type(scenario).__name__}"
    )


def scenarios() -> pd.DataFrame:
    """The built-in scenarios: columns ``name`` and ``description``."""
    return pd.DataFrame(_tabula.scenarios(), columns=["name", "description"])


def models() -> pd.DataFrame:
    """The built-in models and modules: columns ``name`` and ``description``."""
    return pd.DataFrame(_tabula.models(), columns=["name", "description"])


def trials() -> pd.DataFrame:
    """The built-in virtual trials (with the ``TABULA_LIBRARY`` overlay): columns ``name`` and
    ``description``."""
    return pd.DataFrame(_tabula.trials(), columns=["name", "description"])


_DTYPES = {"f64": np.float64, "i64": np.int64, "u64": np.uint64}


def _frame(columns, format: str):
    data = {}
    for name, kind, values in columns:
        if kind in _DTYPES:
            data[name] = np.frombuffer(values, dtype=_DTYPES[kind])
        elif kind == "bool":
            data[name] = np.asarray(values, dtype=bool)
        else:
            data[name] = values
    if format == "arrow":
        import pyarrow as pa

        return pa.table(data)
    return pd.DataFrame(data)


def trial(
    trial: str,
    *,
    patients: Optional[int] = None,
    seed: Optional[int] = None,
    arms: Optional[Sequence[str]] = None,
    threads: Optional[int] = None,
    format: str = "pandas",
):
    """Runs a virtual trial in memory and returns ``(patients, summary)``.

    Parameters
    ----------
    trial:
        A built-in trial name (see :func:`trials`), the path of a trial file or its TOML text
        (format: ``docs/trials.md``).
    patients, seed:
        Override the trial file's patients per arm and seed.
    arms:
        Run only these arms (by name).
    threads:
        Worker threads (default: all cores). Results do not depend on it.
    format:
        ``"pandas"`` (default) or ``"arrow"``.

    Returns
    -------
    ``patients``: one row per arm and patient, with the patient's sampled parameters, every
    endpoint, a ``status`` (``ok`` or why the patient failed) and a ``reason``.
    ``summary``: one row per arm and endpoint with the statistic, estimate and 95% CI, as in
    the ``summary.csv`` that ``tabula trial`` writes.
    """
    if format not in ("pandas", "arrow"):
        raise TabulaError(f'format must be "pandas" or "arrow", found {format!r}')
    if not isinstance(trial, str):
        raise TypeError(f"expected a trial name, path or TOML text; got {type(trial).__name__}")
    per_patient, summary = _tabula.trial(
        trial,
        patients=patients,
        seed=seed,
        threads=threads,
        arms=list(arms) if arms is not None else None,
    )
    return _frame(per_patient, format), _frame(summary, format)


def simulate(
    scenario: ScenarioLike,
    params: Optional[Mapping[str, float]] = None,
    duration: Union[float, str, None] = None,
    states: bool = False,
    *,
    output_times: Optional[Sequence[float]] = None,
    wide: bool = False,
    format: str = "pandas",
    method: Optional[str] = None,
    rtol: Optional[float] = None,
    atol: Optional[float] = None,
):
    """Simulates one patient under one regimen.

    Parameters
    ----------
    scenario:
        A :class:`Scenario`, or what :class:`Scenario` accepts: a built-in name such as
        ``"sle/cd19_car_t"``, the path of a scenario file, or its TOML text.
    params:
        Parameter overrides ``{name: value}``, in each parameter's declared unit.
    duration:
        A new end time: a number in the model's time unit or a string with a unit
        (``"2 year"``). The scenario's output step is kept.
    states:
        Include every state as well as the outputs.
    output_times:
        Explicit output times (overrides the scenario's grid).
    wide:
        One column per observable (``time`` first) instead of the long table.
    format:
        ``"pandas"`` (default) or ``"arrow"`` (a ``pyarrow.Table``).
    method, rtol, atol:
        Solver settings (``"bdf"``, ``"esdirk34"``, ``"tr_bdf2"``, ``"tsit45"``).

    Returns
    -------
    A long table with columns ``time``, ``observable`` (categorical, outputs first, then states)
    and ``value``; or, with ``wide=True``, one row per time. ``df.attrs`` holds the scenario
    name, the time unit and the solver statistics.
    """
    sc = _scenario(scenario)
    if format not in ("pandas", "arrow"):
        raise TabulaError(f'format must be "pandas" or "arrow", found {format!r}')
    tb, names, vb, n_outputs, stats = _tabula.simulate(
        sc,
        params=dict(params) if params is not None else None,
        duration=duration,
        output_times=list(output_times) if output_times is not None else None,
        states=states,
        method=method,
        rtol=rtol,
        atol=atol,
    )
    times = np.frombuffer(tb, dtype=np.float64)
    k = len(names)
    values = np.frombuffer(vb, dtype=np.float64).reshape(len(times), k)
    if wide:
        data = {"time": times}
        data.update({n: values[:, j] for j, n in enumerate(names)})
        if format == "arrow":
            import pyarrow as pa

            return pa.table(data)
        df = pd.DataFrame(data)
    else:
        codes = np.tile(np.arange(k, dtype=np.int32), len(times))
        if format == "arrow":
            import pyarrow as pa

            return pa.table(
                {
                    "time": np.repeat(times, k),
                    "observable": pa.DictionaryArray.from_arrays(codes, names),
                    "value": values.reshape(-1),
                }
            )
        df = pd.DataFrame(
            {
                "time": np.repeat(times, k),
                "observable": pd.Categorical.from_codes(codes, categories=names),
                "value": values.reshape(-1),
            }
        )
    df.attrs.update(
        scenario=sc.name,
        time_unit=sc.time_unit,
        outputs=list(names[:n_outputs]),
        solver=dict(stats),
    )
    return df


def simulate_population(
    scenario: ScenarioLike,
    parameters,
    *,
    duration: Union[float, str, None] = None,
    output_times: Optional[Sequence[float]] = None,
    observables: Optional[Sequence[str]] = None,
    threads: Optional[int] = None,
    format: str = "pandas",
    method: Optional[str] = None,
    rtol: Optional[float] = None,
    atol: Optional[float] = None,
):
    """Simulates one scenario for many parameter sets (virtual patients), in parallel.

    Parameters
    ----------
    scenario:
        As for :func:`simulate`.
    parameters:
        A DataFrame (or a mapping of equal-length arrays) with one column per parameter to set
        and one row per patient; other parameters keep the scenario's values. Patients are
        numbered by row position, from 0.
    duration, output_times:
        As for :func:`simulate`; ``output_times=[730]`` asks for endpoints only.
    observables:
        Outputs and states to return (default: every output).
    threads:
        Worker threads (default: one per core). Results do not depend on it.

    Returns
    -------
    ``(values, status)``: ``values`` is a long table ``patient, time, observable, value``;
    ``status`` has one row per patient (``patient, status, message``). A patient whose run
    failed has status other than ``"ok"`` and NaN values; the others are unaffected.
    """
    sc = _scenario(scenario)
    if format not in ("pandas", "arrow"):
        raise TabulaError(f'format must be "pandas" or "arrow", found {format!r}')
    if isinstance(parameters, pd.DataFrame):
        names = [str(c) for c in parameters.columns]
        matrix = parameters.to_numpy(dtype=np.float64).reshape(len(parameters), len(names))
    else:
        names = list(parameters)
        columns = [np.asarray(parameters[n], dtype=np.float64) for n in names]
        matrix = np.column_stack(columns) if columns else np.zeros((0, 0))
    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    n = matrix.shape[0]
    tb, obs, vb, status = _tabula.simulate_population(
        sc,
        names,
        matrix.tobytes(),
        patients=n,
        duration=duration,
        output_times=list(output_times) if output_times is not None else None,
        observables=list(observables) if observables is not None else None,
        threads=threads,
        method=method,
        rtol=rtol,
        atol=atol,
    )
    times = np.frombuffer(tb, dtype=np.float64)
    k, nt = len(obs), len(times)
    values = np.frombuffer(vb, dtype=np.float64)
    patient = np.repeat(np.arange(n, dtype=np.int64), nt * k)
    time_col = np.tile(np.repeat(times, k), n)
    codes = np.tile(np.arange(k, dtype=np.int32), n * nt)
    kind = [s if s == "ok" else s.split(":", 1)[0] for s in status]
    message = ["" if s == "ok" else s.split(":", 1)[1].strip() for s in status]
    if format == "arrow":
        import pyarrow as pa

        return (
            pa.table(
                {
                    "patient": patient,
                    "time": time_col,
                    "observable": pa.DictionaryArray.from_arrays(codes, obs),
                    "value": values,
                }
            ),
            pa.table({"patient": np.arange(n, dtype=np.int64), "status": kind, "message": message}),
        )
    df = pd.DataFrame(
        {
            "patient": patient,
            "time": time_col,
            "observable": pd.Categorical.from_codes(codes, categories=obs),
            "value": values,
        }
    )
    st = pd.DataFrame({"patient": np.arange(n, dtype=np.int64), "status": kind, "message": message})
    return df, st


def to_sbml(scenario: ScenarioLike, params: Optional[Mapping[str, float]] = None) -> str:
    """The scenario's model, parameter values and doses as an SBML Level 3 document (text)."""
    return _scenario(scenario).to_sbml(dict(params) if params is not None else None)
