"""The Dask scale-out example: sharded over worker processes equals one process."""

import importlib
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("dask.distributed")
pytest.importorskip("pyarrow")

import tabula  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def example():
    # Worker processes unpickle the shard function by module name: they must import it too.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EXAMPLES), saved]))
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield importlib.import_module("dask_trial")
    finally:
        sys.path.remove(str(EXAMPLES))
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def test_shards_partition_the_population(example):
    ranges = [example.shard_range(i, 7, 30) for i in range(7)]
    assert ranges[0][0] == 0 and ranges[-1][1] == 30
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def test_patient_parameters_do_not_depend_on_the_shard(example):
    sc = tabula.Scenario("sle/cd19_car_t")
    whole = example.patient_parameters(sc, 0, 10, seed=7)
    part = example.patient_parameters(sc, 4, 10, seed=7)
    pd.testing.assert_frame_equal(whole.iloc[4:], part)


def test_dask_run_equals_the_single_process_run(example, tmp_path):
    sc = tabula.Scenario("sle/cd19_car_t")
    patients, seed = 24, 11
    single_dir = tmp_path / "single"
    single_dir.mkdir()
    single = example.merge([example.run_shard(sc, 0, 1, patients, seed, str(single_dir), threads=2)])
    sharded_dir = tmp_path / "sharded"
    sharded_dir.mkdir()
    sharded = example.run_on_dask(sc, patients, shards=5, workers=2, seed=seed, out=str(sharded_dir))
    assert len(list(sharded_dir.glob("shard-*.parquet"))) == 5
    assert (single.status == "ok").all()
    pd.testing.assert_frame_equal(single, sharded)
