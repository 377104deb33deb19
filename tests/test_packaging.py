"""What the README promises about installing: `make wheel` gives an abi3 manylinux wheel that installs
without a Rust toolchain and works from a fresh environment."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_make_wheel_builds_an_abi3_wheel_that_installs_and_runs(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    env = {**os.environ, "CARGO_TARGET_DIR": os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/fleetstream/target"))}
    # The Makefile's recipe, with the wheel written to a scratch folder.
    built = subprocess.run(["make", "-s", "wheel", f"PYTHON={sys.executable}", "MATURIN_OUT=" + str(out)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=3000)
    assert built.returncode == 0, built.stderr[-3000:]
    wheels = list(out.glob("fleetstream-*.whl"))
    assert len(wheels) == 1 and "-cp311-abi3-manylinux_" in wheels[0].name, wheels
    # A fresh environment (pyarrow from the test environment's packages), the wheel installed without
    # dependencies or a build: the package comes from the wheel, not from this checkout.
    env_dir = tmp_path / "env"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(wheels[0])],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]
    script = (
        "import fleetstream as fs, pyarrow as pa\n"
        "print(fs.__file__)\n"
        "agg = fs.WindowAggregator(window=fs.Tumbling('1m'), key='k', aggs={'n': fs.count()})\n"
        "out = pa.concat_tables([agg.push(pa.table({'ts': [1, 2, 70000], 'k': ['a', 'b', 'a']})), agg.flush()])\n"
        "print(out['n'].to_pylist())\n"
    )
    ran = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    location, counts = ran.stdout.splitlines()
    assert location.startswith(str(env_dir)), location
    assert counts == "[1, 1, 1]"
