"""Runs from Python: the CLI's tables byte for byte, every input form, located errors,
Arrow interoperability without copies, the GIL released and Ctrl-C honoured."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dealersim


def ipc_bytes(table: pa.Table) -> bytes:
    """The table's Arrow IPC stream, one batch, no schema metadata: equal bytes mean
    equal types, nullability and values (floats to the bit)."""
    table = table.replace_schema_metadata(None).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max(table.num_rows, 1))
    return sink.getvalue().to_pybytes()


def test_the_tables_are_the_clis_byte_for_byte(cli: Path, paper: Path, tmp_path: Path):
    out = tmp_path / "cli"
    subprocess.run(
        [cli, "run", paper, "--out", out, "--seed", "11", "--trades", "--quiet"],
        check=True,
    )
    run = dealersim.run(paper, seed=11, trades=True)
    written = sorted(p.stem for p in out.glob("*.parquet"))
    assert sorted(run.tables) == written
    for name, table in run.tables.items():
        from_file = pq.read_table(out / f"{name}.parquet")
        assert table.schema == from_file.schema, name
        assert ipc_bytes(table) == ipc_bytes(from_file), f"{name} differs from the CLI's"
    assert run.scenario == (out / "scenario.ron").read_text()
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert run.manifest["mechanisms"] == manifest["mechanisms"]
    assert run.manifest["seed"] == manifest["seed"] == 11


def test_the_thread_count_changes_no_byte(paper: Path):
    script = (
        "import dealersim, hashlib, sys\n"
        "from test_run import ipc_bytes\n"
        f"run = dealersim.run({str(paper)!r}, steps=300, trades=True)\n"
        "h = hashlib.sha256()\n"
        "for name, table in run.tables.items(): h.update(name.encode()); h.update(ipc_bytes(table))\n"
        "print(h.hexdigest())\n"
    )
    digests = set()
    for threads in ("1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={"RAYON_NUM_THREADS": threads, "PATH": "", "PYTHONPATH": str(Path(__file__).parent)},
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(done.stdout.strip())
    assert len(digests) == 1, digests


def test_a_dict_and_ron_text_run_like_the_file(paper: Path):
    from_file = dealersim.run(paper, steps=50)
    as_dict = dealersim.scenario(paper)
    assert as_dict["steps"] == 96 and as_dict["seed"] == 1
    from_dict = dealersim.run(as_dict, steps=50)
    from_text = dealersim.run(paper.read_text(), steps=50)
    for other in (from_dict, from_text):
        assert other.tables.keys() == from_file.tables.keys()
        for name in from_file.tables:
            assert other.tables[name].equals(from_file.tables[name]), name
    edited = dict(as_dict, seed=2)
    assert not dealersim.run(edited, steps=50).tables["metrics"].equals(
        from_file.tables["metrics"]
    )


def test_bad_ron_is_located_like_the_cli():
    text = "(\n    seed: 1,\n    stepz: 5,\n    mechanisms: [],\n)\n"
    with pytest.raises(dealersim.ScenarioError) as caught:
        dealersim.run(text)
    message = str(caught.value)
    assert "<string>:3:" in message and "stepz" in message, message
    (problem,) = caught.value.problems
    assert problem["line"] == 3 and problem["column"] is not None


def test_an_invalid_value_names_its_field(paper: Path):
    with pytest.raises(dealersim.ScenarioError) as caught:
        dealersim.run(paper.read_text().replace("steps: 96", "steps: 0"))
    assert any(p["field"] == "steps" and p["line"] for p in caught.value.problems), (
        caught.value.problems
    )
    as_dict = dealersim.scenario(paper)
    as_dict["steps"] = 0
    with pytest.raises(dealersim.ScenarioError) as caught:
        dealersim.validate(as_dict)
    assert [p["field"] for p in caught.value.problems] == ["steps"]
    assert "<dict>" in str(caught.value)
    as_dict["steps"] = "many"
    with pytest.raises(dealersim.ScenarioError) as caught:
        dealersim.run(as_dict)
    assert caught.value.problems[0]["field"] == "steps"
    assert isinstance(caught.value, ValueError)


def test_other_inputs_fail_plainly(tmp_path: Path):
    with pytest.raises(OSError, match="cannot read scenario"):
        dealersim.run(tmp_path / "missing.ron")
    with pytest.raises(TypeError):
        dealersim.run(42)  # type: ignore[arg-type]
    # Four billion ticks of tables would not fit in memory: refused before the first tick.
    with pytest.raises(dealersim.ScenarioError, match="memory") as caught:
        dealersim.run(paper_text_with_steps(4_000_000_000))
    assert caught.value.problems[0]["field"] == "steps"


def paper_text_with_steps(steps: int) -> str:
    root = Path(__file__).resolve().parents[2]
    return (root / "scenarios" / "paper.ron").read_text().replace("steps: 96", f"steps: {steps}")


def test_validate_returns_warnings_and_a_population_too_large_is_refused(paper: Path):
    assert isinstance(dealersim.validate(paper), list)
    first = "Investor(p_trade: 0.0052083, size_mean: 0.5, size_dispersion: 0.5, p_buy: 0.5, sophistication: 0.5),"
    text = paper.read_text()
    assert first in text
    huge = text.replace(
        first,
        "Group(count: 4000000000, p_trade: LogUniform(min: 0.0052, max: 0.125),"
        " size_mean: Uniform(min: 0.5, max: 7.0)),",
    )
    with pytest.raises(dealersim.ScenarioError, match="memory"):
        dealersim.validate(huge)


def test_tables_reach_pandas_and_polars_without_a_copy(paper: Path):
    import polars

    run = dealersim.run(paper)
    metrics = run.tables["metrics"]
    frame = metrics.to_pandas()
    assert len(frame) == metrics.num_rows and frame["tick"].dtype.name == "uint32"
    assert polars.from_arrow(metrics).shape == (metrics.num_rows, metrics.num_columns)
    # Two imports of one Rust table share its buffers: the stream hands them over.
    raw = dealersim._dealersim.run("path", str(paper))
    (name, handle) = raw.tables()[0]
    first, second = pa.table(handle), pa.table(handle)
    address = lambda t: t.column("mid_price").chunk(0).buffers()[1].address  # noqa: E731
    assert address(first) == address(second)


def test_the_gil_is_released_and_ctrl_c_stops_a_run(paper: Path):
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    dealersim.run(paper, steps=20_000)
    stop.set()
    counter.join()
    assert len(ticks) > 10, "another Python thread did not run during the run"

    script = (
        "import dealersim, sys\n"
        "try:\n"
        f"    dealersim.run({str(paper)!r}, steps=50_000_000)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted'); sys.exit(130)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    time.sleep(2.0)
    assert child.poll() is None, "the long run ended by itself"
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 130 and "interrupted" in out
    assert time.monotonic() - sent < 10


def test_experiments_are_listed_and_run(tmp_path: Path):
    names = dealersim.experiments()
    assert {"price-sensitivity", "dealer-pairs"} <= set(names)
    result = dealersim.experiment("price-sensitivity", runs=3, seed=5)
    again = dealersim.experiment("price-sensitivity", runs=3, seed=5)
    assert result.results.num_rows > 0
    # pandas' equals counts NaN (no finite value for a variant) equal to NaN; Arrow's does not.
    assert result.results.to_pandas().equals(again.results.to_pandas())
    assert result.figure_svg.startswith("<svg") and result.figure_png[:4] == b"\x89PNG"
    assert result.summary
    with pytest.raises(dealersim.ScenarioError, match="no experiment"):
        dealersim.experiment("no-such-experiment")
