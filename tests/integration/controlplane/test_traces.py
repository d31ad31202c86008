"""A run is one trace: from ``sf run start`` through the control plane and runner to Kilroy.

Every process writes its spans as JSON lines to FACTORYOS_TRACES_FILE (the
file exporter; OTLP works the same way through OTEL_EXPORTER_OTLP_ENDPOINT),
so the test can rebuild the tree across processes. With tracing off nothing
is exported and the SDK is not even imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from factory_support import Factory, marks_step

#: Slow, 3-4 s a test (a real run, traced): not in `make test-fast`.
#: Its pipelines write marks (or wait on gates) outside their candidate: no sandbox.
pytestmark = [pytest.mark.slow, pytest.mark.unsandboxed]


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_span_tree_of_a_real_run(factory: Factory, tmp_path: Path) -> None:
    spans_file, metrics_file = tmp_path / "spans.jsonl", tmp_path / "metrics.jsonl"
    factory.env["FACTORYOS_TRACES_FILE"] = str(spans_file)
    factory.env["FACTORYOS_METRICS_FILE"] = str(metrics_file)
    logs_file = tmp_path / "logs.jsonl"
    factory.env["FACTORYOS_LOGS_FILE"] = str(logs_file)
    marks = tmp_path / "marks"
    steps = {"a": marks_step(marks, "a", 0.2), "b": marks_step(marks, "b")}
    factory.sf(
        "product", "add", "traced", "--repo", str(factory.repo("traced", {"pipeline": steps}))
    )
    factory.up()
    factory.sf("run", "start", "traced", "--goal", "g", "--name", "traced-1", "--wait")
    factory.down()

    spans = _spans(spans_file)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_name.setdefault(span["name"], []).append(span)
    (root,) = by_name["sf run start"]
    trace = root["context"]["trace_id"]
    assert root["parent_id"] is None
    assert {s["context"]["trace_id"] for s in spans} == {trace}, "one trace for the whole run"
    (candidate,) = by_name["candidate c0"]
    assert candidate["parent_id"] == root["context"]["span_id"]
    assert candidate["resource"]["attributes"]["service.name"] == "factoryos-runner"
    for stage in ("stage a", "stage b"):
        (span,) = by_name[stage]
        assert span["parent_id"] == candidate["context"]["span_id"]
        assert span["start_time"] < span["end_time"]
    assert by_name["stage a"][0]["end_time"] <= by_name["stage b"][0]["start_time"]
    passes = by_name["reconcile run"]
    assert passes and all(p["parent_id"] == root["context"]["span_id"] for p in passes)
    assert {p["resource"]["attributes"]["service.name"] for p in passes} == {
        "factoryos-controlplane"
    }
    (evaluation,) = by_name["evaluate iteration 1"]
    assert evaluation["parent_id"] == root["context"]["span_id"]

    recorded: dict[str, list[dict[str, Any]]] = {}
    for line in metrics_file.read_text().splitlines():
        for rm in json.loads(line)["resource_metrics"]:
            for sm in rm["scope_metrics"]:
                for metric in sm["metrics"]:
                    recorded.setdefault(metric["name"], []).extend(metric["data"]["data_points"])
    stages = {p["attributes"]["factory.stage"] for p in recorded["factory.stage.duration"]}
    assert {"a", "b"} <= stages
    phases = {p["attributes"]["factory.phase"] for p in recorded["factory.run.transitions"]}
    assert {"Building", "Succeeded"} <= phases
    assert recorded["factory.queue.wait.duration"][0]["count"] == 1

    logs = [json.loads(line) for line in logs_file.read_text().splitlines()]
    started = next(r for r in logs if r["body"].startswith("workload traced-1-c0-1 started"))
    assert started["trace_id"] == trace and started["span_id"] == candidate["context"]["span_id"]
    # The control plane's records of the run are in its trace too, on the pass that did it.
    pass_ids = {p["context"]["span_id"] for p in passes}
    planes = [
        r for r in logs if r["resource"]["attributes"]["service.name"] == "factoryos-controlplane"
    ]
    said = {r["body"]: r for r in planes}
    for body in ("run traced-1: started workload traced-1-c0-1", "run traced-1: Succeeded"):
        record = next(r for b, r in said.items() if b.startswith(body))
        assert record["trace_id"] == trace and record["span_id"] in pass_ids, body


def test_with_tracing_off_nothing_is_exported_or_even_imported(
    factory: Factory, tmp_path: Path
) -> None:
    probe = (
        "import sys\n"
        "from factoryos.telemetry import Telemetry\n"
        "import factoryos.worker, factoryos.cli.app\n"
        "t = Telemetry.from_env('x', {'PATH': '/bin'})\n"
        "with t.span('nothing') as parent: pass\n"
        "print(t.on, parent, any(m.startswith('opentelemetry') for m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "None", "False"], done.stderr
    factory.sf(
        "product", "add", "quiet", "--repo", str(factory.repo("quiet", {"pipeline": {"a": "true"}}))
    )
    factory.up()
    factory.sf("run", "start", "quiet", "--goal", "g", "--name", "quiet-1", "--wait")
    assert "factoryos.dev/traceparent" not in factory.run("quiet-1").metadata.annotations
