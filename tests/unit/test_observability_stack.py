"""deploy/observability: the compose stack and its configuration, checked without Docker.

No Docker engine runs here, so the files are parsed and cross-checked: every
image pinned, ports on loopback, every mounted file present, the collector's
pipelines wired to defined parts, and every dashboard query naming a metric
Factory OS records (in Prometheus' spelling of OTLP names) on a provisioned
datasource.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from factoryos.telemetry import METRICS

STACK = Path(__file__).resolve().parents[2] / "deploy" / "observability"


def load(name: str) -> Any:
    return yaml.safe_load((STACK / name).read_text())


def test_the_compose_stack_is_pinned_local_and_complete() -> None:
    compose = load("docker-compose.yaml")
    services = compose["services"]
    assert set(services) == {"otel-collector", "tempo", "prometheus", "loki", "grafana"}
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (STACK / source).exists(), f"{name} mounts missing {source}"
    assert "127.0.0.1:4318:4318" in services["otel-collector"]["ports"]


def test_the_collector_pipelines_use_only_defined_parts() -> None:
    config = load("otel-collector.yaml")
    for signal, pipeline in config["service"]["pipelines"].items():
        for part in ("receivers", "processors", "exporters"):
            for name in pipeline.get(part, []):
                assert name in config[part], f"{signal} uses undefined {part[:-1]} {name}"
    assert set(config["service"]["pipelines"]) == {"traces", "metrics", "logs"}


def prometheus_names() -> set[str]:
    names = set()
    for name, (kind, unit, _) in METRICS.items():
        base = name.replace(".", "_")
        if kind == "counter":
            names.add(f"{base}_total")
        else:
            base += "_seconds" if unit == "s" else ""
            names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
    return names


def test_the_dashboard_queries_our_metrics_on_provisioned_datasources() -> None:
    sources = load("grafana/provisioning/datasources/datasources.yaml")["datasources"]
    uids = {s["uid"] for s in sources}
    provider = load("grafana/provisioning/dashboards/dashboards.yaml")["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboard = json.loads((STACK / "grafana" / "dashboards" / "factoryos.json").read_text())
    known = prometheus_names()
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in uids, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in uids
            for metric in re.findall(r"\b(factory_[a-z_]+)\s*[\[{]", target.get("expr", "")):
                assert metric in known, f"{panel['title']}: {metric} is not a Factory OS metric"
                used.add(metric)
    recorded = {n.replace(".", "_") for n in METRICS}
    shown = {re.sub(r"(_seconds)?(_bucket|_total)$", "", m) for m in used}
    assert shown == recorded, "every metric has a panel"
