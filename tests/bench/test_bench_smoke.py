"""The bench command keeps working: a `--quick` run with tiny sizes, checked for its structure.

No timing is asserted (the figures of a quick run mean nothing); what is checked is that every row
ran, that each comparison proved its contenders gave the same outputs before timing them, and that
the table, results.md and results.json say the same things.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROWS_WITHOUT_CRITERION = "cold_start,glue,node_overhead,compute,interpreter_ops,parallel,arrays,remote"
EXPECTED_KEYS = ["cold_start", "glue_throughput", "node_overhead", "compute_heavy", "parallel_stages",
                 "array_passing", "peak_memory", "remote_loopback", "remote_soak", "interpreter_ops"]
COMPARISONS = {"cold_start", "glue_throughput", "node_overhead", "compute_heavy", "parallel_stages"}


@pytest.fixture(scope="module")
def quick_run(repo_root: Path, remotemedia_bin: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "REMOTEMEDIA_BIN": str(remotemedia_bin)}
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--no-build", "--rows", ROWS_WITHOUT_CRITERION,
         "--out", str(out)],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed, json.loads((out / "results.json").read_text(encoding="utf-8")), \
        (out / "results.md").read_text(encoding="utf-8")


def test_every_row_is_reported_in_issue_order(quick_run):
    _, results, _ = quick_run
    assert [row["key"] for row in results["rows"]] == EXPECTED_KEYS
    assert all(not row["error"] for row in results["rows"])


def test_each_comparison_checked_equal_outputs_before_timing(quick_run):
    _, results, _ = quick_run
    for row in results["rows"]:
        if row["key"] in COMPARISONS:
            assert row["checks"], f"{row['key']} timed contenders without checking their outputs"
            assert all(check.startswith("same outputs (sha256 ") for check in row["checks"])


def test_measured_figures_have_one_sample_per_repetition(quick_run):
    _, results, _ = quick_run
    repetitions = results["settings"]["repetitions"]
    measured = [figure for row in results["rows"] for figure in row["figures"] if figure["status"] == "ok"]
    assert measured, "a quick run measured nothing"
    for figure in measured:
        stats = figure["stats"]
        assert stats["min"] <= stats["q1"] <= stats["median"] <= stats["q3"] <= stats["max"]
        assert stats["n"] == len(stats["samples"])
    glue = next(row for row in results["rows"] if row["key"] == "glue_throughput")
    assert all(figure["stats"]["n"] == repetitions for figure in glue["figures"] if figure["status"] == "ok")


def test_missing_engines_are_not_faked(quick_run):
    _, results, _ = quick_run
    for row in results["rows"]:
        for figure in row["figures"]:
            if figure["status"] != "ok":
                assert figure["status"].startswith("n/a") and figure["stats"] is None and figure["note"]


def test_targets_are_judged_and_the_report_agrees_with_the_json(quick_run):
    completed, results, markdown = quick_run
    targets = [target for row in results["rows"] for target in row["targets"]]
    assert {target["status"] for target in targets} <= {"met", "missed", "n/a"}
    assert any(target["status"] in {"met", "missed"} for target in targets)
    assert "--quick" in markdown and "## Machine" in markdown and results["machine"]["cpu_model"] in markdown
    for row in results["rows"]:
        assert row["title"] in markdown
        assert row["title"] in completed.stdout
    for target in targets:
        assert f"| {target['target']} | **{target['status']}** |" in markdown
