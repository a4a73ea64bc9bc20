"""The Python interface: results, options, errors, pickling and the GIL."""

import math
import os
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

import tabula

PK_SCENARIO = """
[scenario]
name = "pk_text"
description = "Scenario given as text"
model = "reference/one_compartment"
duration = 24
output = { step = 1 }

[[dose]]
into = "iv"
amount = 100
time = 0
"""


def closed_form(t, dose=100.0, cl=5.0, v=50.0):
    return dose / v * np.exp(-cl / v * np.asarray(t))


def test_listings():
    sc = tabula.scenarios()
    assert list(sc.columns) == ["name", "description"]
    assert "reference/pk_bolus" in set(sc.name)
    assert "sle/cd19_car_t" in set(sc.name)
    m = tabula.models()
    assert "reference/one_compartment" in set(m.name)


def test_long_table_matches_the_closed_form():
    df = tabula.simulate("reference/pk_bolus", rtol=1e-10, atol=1e-12)
    assert list(df.columns) == ["time", "observable", "value"]
    assert list(df.observable.cat.categories) == ["C"]
    c = df[df.observable == "C"]
    np.testing.assert_allclose(c.value, closed_form(c.time), rtol=1e-7)
    assert df.attrs["scenario"] == "pk_bolus"
    assert df.attrs["time_unit"] == "h"
    assert df.attrs["solver"]["steps"] > 0


def test_wide_table_with_states_and_parameters():
    df = tabula.simulate("reference/pk_bolus", params={"V": 25.0}, states=True, wide=True)
    assert list(df.columns) == ["time", "C", "A"]
    assert df.time.iloc[0] == 0.0
    assert df.C.iloc[0] == pytest.approx(100.0 / 25.0)
    np.testing.assert_allclose(df.C, df.A / 25.0, rtol=1e-12)


def test_duration_with_a_unit_keeps_the_output_step():
    df = tabula.simulate("reference/pk_bolus", duration="3 day", wide=True)
    assert df.time.iloc[-1] == pytest.approx(72.0)
    assert df.time.iloc[1] - df.time.iloc[0] == pytest.approx(0.25)


def test_explicit_output_times():
    df = tabula.simulate("reference/pk_bolus", output_times=[0, 1.5, 30], wide=True)
    assert list(df.time) == [0, 1.5, 30]


def test_arrow_tables():
    pa = pytest.importorskip("pyarrow")
    t = tabula.simulate("reference/pk_bolus", format="arrow")
    assert isinstance(t, pa.Table)
    assert t.column_names == ["time", "observable", "value"]
    w = tabula.simulate("reference/pk_bolus", format="arrow", wide=True)
    assert w.column_names == ["time", "C"]
    assert w.num_rows == t.num_rows


def test_scenario_from_text_and_file(tmp_path):
    a = tabula.simulate(PK_SCENARIO, wide=True)
    path = tmp_path / "pk.toml"
    path.write_text(PK_SCENARIO)
    b = tabula.simulate(str(path), wide=True)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_allclose(a.C, closed_form(a.time), rtol=1e-5)


def test_scenario_and_model_objects():
    sc = tabula.Scenario("sle/cd19_car_t")
    assert sc.name == "sle_cd19_car_t"
    assert sc.duration == 735
    assert "WT" in sc.parameters
    assert "b_blood" in sc.outputs
    assert sc.doses[0]["into"] == "flu"
    m = sc.model
    assert isinstance(m, tabula.Model)
    assert len(m.states) > 20
    p = pd.DataFrame(m.parameters)
    assert {"name", "value", "unit", "description", "status", "source"} <= set(p.columns)
    assert "[scenario]" in sc.text
    assert tabula.Model("reference/one_compartment").time_unit == "h"


@pytest.mark.parametrize("source", ["reference/pk_bolus", PK_SCENARIO, "file"])
def test_scenarios_pickle_as_text(source, tmp_path):
    if source == "file":
        path = tmp_path / "pk.toml"
        path.write_text(PK_SCENARIO)
        source = str(path)
    sc = tabula.Scenario(source)
    sc2 = pickle.loads(pickle.dumps(sc))
    assert sc2.name == sc.name
    assert sc2.text == sc.text
    pd.testing.assert_frame_equal(tabula.simulate(sc), tabula.simulate(sc2))


def test_file_scenario_pickle_survives_the_file(tmp_path):
    path = tmp_path / "pk.toml"
    path.write_text(PK_SCENARIO)
    blob = pickle.dumps(tabula.Scenario(str(path)))
    path.unlink()
    sc = pickle.loads(blob)
    assert sc.name == "pk_text"


def test_models_pickle_as_text():
    m = tabula.Model("sle/cd19_car_t")
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.name == m.name
    assert [p["name"] for p in m2.parameters] == [p["name"] for p in m.parameters]


def test_bad_input_raises_located_errors(tmp_path):
    with pytest.raises(tabula.TabulaError, match="no scenario file or built-in scenario named .*did you mean `sle/cd19_car_t`"):
        tabula.Scenario("sle/cd19_car_tt")
    with pytest.raises(ValueError, match="unknown parameter `VV`"):
        tabula.simulate("reference/pk_bolus", params={"VV": 1.0})
    bad = PK_SCENARIO.replace("amount = 100", "amount = -100")
    path = tmp_path / "bad.toml"
    path.write_text(bad)
    with pytest.raises(tabula.TabulaError) as e:
        tabula.Scenario(str(path))
    assert "bad.toml" in str(e.value) and ":" in str(e.value)
    with pytest.raises(tabula.TabulaError, match="duration"):
        tabula.simulate("reference/pk_bolus", duration="two days")
    with pytest.raises(tabula.TabulaError, match="method"):
        tabula.simulate("reference/pk_bolus", method="euler")
    with pytest.raises(TypeError):
        tabula.simulate(42)


BLOWUP_MODEL = """
[model]
name = "blowup"
description = "dA/dt = k A^2 reaches infinity at t = 1 / (k A0)"
time_unit = "day"

[parameters]
k = { value = 1, unit = "1/(mg*day)", description = "Rate", status = "assumed", range = [0, 2] }

[states]
A = { unit = "mg", initial = 1, description = "Amount" }

[rates]
A = "k * A * A"
"""


def test_failed_runs_raise_simulation_error(tmp_path):
    (tmp_path / "blowup.toml").write_text(BLOWUP_MODEL)
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[scenario]\nname = "b"\ndescription = "finite-time blow-up"\nmodel = "blowup.toml"\n'
        "duration = 2\noutput = { step = 0.1 }\n"
    )
    with pytest.raises(tabula.SimulationError, match="simulation of `b` failed"):
        tabula.simulate(str(scenario))


def test_sbml_export():
    xml = tabula.to_sbml("reference/pk_bolus", params={"V": 20})
    assert xml.startswith("<?xml")
    assert 'level="3"' in xml
    assert 'value="20.0"' in xml


def test_the_gil_is_released_during_a_run():
    """Another Python thread keeps running while a simulation is in progress."""
    sc = tabula.Scenario("sle/cd19_car_t")
    tabula.simulate(sc, duration=10)  # warm up
    counter = 0
    stop = threading.Event()

    def spin():
        nonlocal counter
        while not stop.is_set():
            counter += 1

    th = threading.Thread(target=spin)
    th.start()
    try:
        time.sleep(0.01)
        before = counter
        started = time.perf_counter()
        tabula.simulate(sc, rtol=1e-9, atol=1e-11)
        elapsed = time.perf_counter() - started
        during = counter - before
    finally:
        stop.set()
        th.join()
    # With the GIL held for the whole run the other thread could not count at all.
    assert elapsed > 0.01
    assert during > 1000, f"the other thread counted {during} in {elapsed:.3f} s"


def test_version():
    assert tabula.__version__.count(".") == 2
    assert not math.isnan(float(tabula.__version__.split(".")[0]))


def test_population_matches_single_runs_and_thread_count():
    pop = pd.DataFrame({"V": [20.0, 50.0, 80.0], "CL": [2.0, 5.0, 9.0]})
    values, status = tabula.simulate_population("reference/pk_bolus", pop, output_times=[0, 6, 48])
    assert list(values.columns) == ["patient", "time", "observable", "value"]
    assert list(status.status) == ["ok", "ok", "ok"]
    for i, row in pop.iterrows():
        single = tabula.simulate("reference/pk_bolus", params=dict(row), output_times=[0, 6, 48])
        got = values[values.patient == i].value.to_numpy()
        np.testing.assert_array_equal(got, single.value.to_numpy())
    one, _ = tabula.simulate_population("reference/pk_bolus", pop, output_times=[48], threads=1)
    two, _ = tabula.simulate_population("reference/pk_bolus", pop, output_times=[48], threads=2)
    pd.testing.assert_frame_equal(one, two)


def test_population_failures_are_data(tmp_path):
    (tmp_path / "blowup.toml").write_text(BLOWUP_MODEL)
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[scenario]\nname = "b"\ndescription = "finite-time blow-up"\nmodel = "blowup.toml"\n'
        "duration = 2\noutput = { step = 1 }\n"
    )
    values, status = tabula.simulate_population(str(scenario), {"k": [0.0, 1.0, 0.1]}, observables=["A"])
    assert list(status.status[[0, 2]]) == ["ok", "ok"]
    assert status.status[1] != "ok" and status.message[1]
    assert values[values.patient == 1].value.isna().all()
    assert values[values.patient == 0].value.tolist() == [1.0, 1.0, 1.0]


def test_builtin_trials_are_listed():
    names = set(tabula.trials().name)
    assert {"sle_refractory", "as_therapies"} <= names


def test_trial_returns_patients_and_summary_independent_of_threads():
    arms = ["CD19 CAR-T", "Rituximab"]
    patients, summary = tabula.trial("sle_refractory", patients=12, seed=7, arms=arms, threads=1)
    assert len(patients) == 2 * 12
    assert set(patients.arm) == set(arms)
    assert list(patients.patient[:12]) == list(range(12))
    assert (patients.status == "ok").all()
    assert set(summary.arm) == set(arms)
    # Depletion is deeper after CD19 CAR-T than after rituximab in the same (paired) patients.
    cd19 = patients[patients.arm == "CD19 CAR-T"].b_depletion_log10.median()
    rtx = patients[patients.arm == "Rituximab"].b_depletion_log10.median()
    assert cd19 < rtx < 0
    again, summary2 = tabula.trial("sle_refractory", patients=12, seed=7, arms=arms, threads=2)
    pd.testing.assert_frame_equal(patients, again)
    pd.testing.assert_frame_equal(summary, summary2)
    other, _ = tabula.trial("sle_refractory", patients=12, seed=8, arms=arms, threads=2)
    assert not np.array_equal(other.b_nadir.to_numpy(), patients.b_nadir.to_numpy())


def test_trial_bad_input_raises_located_errors():
    with pytest.raises(tabula.TabulaError, match="no arm `CD19 CART`"):
        tabula.trial("sle_refractory", patients=2, arms=["CD19 CART"])
    with pytest.raises(tabula.TabulaError, match="no trial file or built-in trial"):
        tabula.trial("no_such_trial")
    with pytest.raises(tabula.TabulaError, match="patients"):
        tabula.trial("sle_refractory", patients=0)


SMALL_TRIAL = """
[trial]
name = "local_file"
description = "A small trial file"
patients = 3
seed = 1

[[arm]]
name = "bolus"
scenario = "reference/pk_bolus"

[population.parameters]
CL = { omega = 0.2 }

[[endpoint]]
name = "conc_d1"
kind = "value"
output = "C"
time = 1
"""


def test_a_file_wins_over_a_builtin_name(tmp_path, monkeypatch):
    # The same precedence rule as the command line: an existing path is a file, even when a
    # built-in trial has the same name.
    (tmp_path / "sle_refractory.toml").write_text(SMALL_TRIAL)
    monkeypatch.chdir(tmp_path)
    patients, _ = tabula.trial("sle_refractory.toml")
    assert set(patients.arm) == {"bolus"}
    patients, _ = tabula.trial("sle_refractory", patients=2, arms=["CD19 CAR-T"])
    assert set(patients.arm) == {"CD19 CAR-T"}


def test_the_library_overlay_is_honoured(tmp_path):
    # TABULA_LIBRARY lays a directory over the built-in library, as --library does; it is read
    # once per process, so this runs in a fresh interpreter.
    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / "mine.toml").write_text(SMALL_TRIAL)
    code = (
        "import tabula\n"
        "p, _ = tabula.trial('mine')\n"
        "print(sorted(set(p.arm)), 'mine' in set(tabula.trials().name))\n"
    )
    env = {**os.environ, "TABULA_LIBRARY": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "['bolus'] True"
    env["TABULA_LIBRARY"] = str(tmp_path / "missing")
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "TABULA_LIBRARY" in bad.stderr
