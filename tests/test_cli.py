"""The console script: `fleetstream demo` runs the alert pipeline on embedded defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fleetstream.cli import main


def test_demo_finds_the_injected_spikes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--events", "300000"]) == 0
    out = capsys.readouterr().out
    assert "reconciles: True" in out
    alert_lines = [line for line in out.splitlines() if "errors/min" in line]
    # The generator injects spikes in checkout (minutes 45-47) and search (minutes 80-81).
    assert any(line.split()[0] == "checkout" and "00:45" in line for line in alert_lines), out
    assert any(line.split()[0] == "search" and "01:20" in line for line in alert_lines), out
    assert all(line.split()[0] in {"checkout", "search"} for line in alert_lines), out
    assert "deliveries around a Berlin hub" in out and "feasible: True" in out, out
    assert "stop table: 60 rows" in out, out


def test_python_dash_m_works_and_bad_arguments_exit_nonzero() -> None:
    ok = subprocess.run([sys.executable, "-m", "fleetstream", "demo", "--events", "5000", "--format", "json"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "alert(s) raised" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "fleetstream", "nonsense"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_demo_payments_reconcile_after_a_restart(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--events", "5000", "--clicks", "1000", "--orders", "0", "--payments", "20000"]) == 0
    out = capsys.readouterr().out
    payments = out[out.index("exactly-once payments"):]
    assert payments.count(": True") == 4 and ": False" not in payments, payments
    assert "restarted after 3 batches" in payments and "top dead-letter reasons" in payments


def test_a_typed_error_is_one_line_naming_it_and_exits_1(tmp_path: Path) -> None:
    # No FX rates next to the reference file: a ConfigError before any broker or database is touched.
    merchants = tmp_path / "merchants.csv"
    merchants.write_text("merchant_id,name\nm1,Shop\n")
    run = subprocess.run(
        [sys.executable, "-m", "fleetstream", "payments", "--brokers", "127.0.0.1:1", "--topic", "t", "--group", "g",
         "--reference", str(merchants), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"fleetstream payments: ConfigError: no FX rates: pass --fx (no fx_rates.csv next to {merchants}), "
        "or --no-fx if every payment is in the base currency USD"]


@pytest.mark.parametrize("option", ["--reference", "--fx"])
def test_a_missing_reference_file_is_named(tmp_path: Path, option: str) -> None:
    merchants = tmp_path / "merchants.csv"
    merchants.write_text("merchant_id,name\nm1,Shop\n")
    paths = {"--reference": str(merchants), "--fx": None, option: str(tmp_path / "nope.csv")}
    extra = ["--fx", paths["--fx"]] if paths["--fx"] else []
    run = subprocess.run(
        [sys.executable, "-m", "fleetstream", "payments", "--brokers", "127.0.0.1:1", "--topic", "t", "--group", "g",
         "--reference", paths["--reference"], *extra, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().splitlines() == [f"fleetstream payments: ConfigError: {option} {tmp_path / 'nope.csv'}: no such file"]
