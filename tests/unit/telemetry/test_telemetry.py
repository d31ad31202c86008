"""Telemetry: spans with given parents and times, metrics by name, nothing at all when off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from factoryos.telemetry import METRICS, Telemetry, enabled


def test_tracing_is_on_only_when_the_environment_asks() -> None:
    assert not enabled({})
    assert enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert enabled({"FACTORYOS_TRACES_FILE": "/tmp/x"})
    assert not enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_SDK_DISABLED": "true"})
    off = Telemetry.from_env("x", {})
    assert not off.on
    with off.span("nothing", "00-" + "1" * 32 + "-" + "2" * 16 + "-01") as parent:
        assert parent is not None and parent.startswith("00-111")
    off.count("factory.gate.decisions")
    off.shutdown()


def test_spans_continue_a_traceparent_and_keep_given_times() -> None:
    spans = InMemorySpanExporter()
    tel = Telemetry.from_env("svc", {}, exporter=spans)
    with tel.span("root") as root:
        assert root is not None
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    child = tel.record("stage a", t0, t0 + timedelta(seconds=2), root, error="boom", x__y=1)
    tel.shutdown()
    done = {s.name: s for s in spans.get_finished_spans()}
    assert done["stage a"].parent is not None
    assert done["stage a"].parent.span_id == done["root"].context.span_id
    assert done["stage a"].context.trace_id == done["root"].context.trace_id
    assert done["stage a"].end_time - done["stage a"].start_time == 2_000_000_000
    assert done["stage a"].status.description == "boom"
    assert done["stage a"].attributes == {"x.y": 1}
    assert child is not None and child.split("-")[1] == f"{done['root'].context.trace_id:032x}"
    assert done["root"].resource.attributes["service.name"] == "svc"


def test_metrics_are_recorded_by_name_with_their_attributes() -> None:
    reader = InMemoryMetricReader()
    tel = Telemetry.from_env("svc", {}, metric_reader=reader)
    tel.count("factory.gate.decisions", factory__gate__decision="accept")
    tel.count("factory.gate.decisions", factory__gate__decision="accept")
    tel.observe("factory.stage.duration", 1.5, factory__stage="test")
    data = reader.get_metrics_data()
    metrics = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    (gate,) = metrics["factory.gate.decisions"].data.data_points
    assert gate.value == 2 and dict(gate.attributes) == {"factory.gate.decision": "accept"}
    (stage,) = metrics["factory.stage.duration"].data.data_points
    assert stage.sum == 1.5 and metrics["factory.stage.duration"].unit == "s"
    with pytest.raises(KeyError):
        tel.count("not.a.metric")
    assert set(METRICS) >= {"factory.run.transitions", "factory.stream.lag"}


def test_log_records_carry_the_current_trace() -> None:
    import logging

    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

    records = InMemoryLogRecordExporter()
    tel = Telemetry.from_env("svc", {}, exporter=InMemorySpanExporter(), log_exporter=records)
    with tel.span("work") as traceparent:
        logging.getLogger("factoryos.runner").info("inside %s", "the span")
    logging.getLogger("factoryos.runner").info("after it")
    tel.shutdown()
    logging.getLogger("factoryos.runner").info("not exported: the handler is gone")
    inside, after = (r.log_record for r in records.get_finished_logs())
    assert traceparent is not None
    assert f"{inside.trace_id:032x}" == traceparent.split("-")[1]
    assert inside.body == "inside the span" and after.trace_id == 0
    assert len(records.get_finished_logs()) == 2
