"""``workload_spec``: the runner workload for one candidate attempt."""

from __future__ import annotations

from pathlib import Path

from builders import product, run

from factoryos.reconcile import workload_spec


def test_names_paths_and_the_pipeline_come_from_the_run_and_product() -> None:
    spec = workload_spec(run(pipeline="other.dot"), product(), 2, 3, Path("/home/runs"))
    assert spec.name == "r-c2-3"
    assert spec.run_dir == Path("/home/runs/default/r")
    assert spec.branch_prefix == "factory/r" and spec.run_id == "c2"
    assert spec.pipeline == "other.dot" and spec.repo_path == Path("/r")
    assert workload_spec(run(), product(), 0, 1, Path("/h")).pipeline == "pipeline.dot"
