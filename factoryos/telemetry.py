"""OpenTelemetry traces, metrics and logs for the factory: off by default, free when off.

``Telemetry.from_env`` turns tracing on only when the standard variables ask
for it (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
for OTLP/HTTP, or ``FACTORYOS_TRACES_FILE`` for JSON lines in a file) and
``OTEL_SDK_DISABLED`` is not true; otherwise every method is a no-op and the
SDK is never imported. Each process builds its own provider (no globals).

A run is one trace. ``sf run start`` opens it and leaves its ``traceparent``
on the Run (annotation ``factoryos.dev/traceparent``); the control plane's
passes, the runner workloads (``TRACEPARENT`` in their spec) and, through the
runner's environment, Kilroy and its tool nodes continue it. Kilroy has no
OpenTelemetry of its own, so the runner turns its stage events into spans with
the stages' own start and end times.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

TRACEPARENT_ANNOTATION = "factoryos.dev/traceparent"
TRACEPARENT_ENV = "TRACEPARENT"
FILE_ENV = "FACTORYOS_TRACES_FILE"
METRICS_FILE_ENV = "FACTORYOS_METRICS_FILE"
LOGS_FILE_ENV = "FACTORYOS_LOGS_FILE"
#: The logger whose records (and its children's) are exported, with the current trace ids.
LOGGER = "factoryos"
#: ``extra=CONSOLE_ONLY`` keeps a record off the exporters (a console copy of something
#: already exported in its trace).
EXPORT_FLAG = "factoryos_export"
CONSOLE_ONLY = {EXPORT_FLAG: False}

#: Every metric Factory OS records: name -> (instrument, unit, what it measures). Low
#: cardinality attributes only (product, stage, phase, decision); never run ids.
METRICS: dict[str, tuple[str, str, str]] = {
    "factory.run.transitions": ("counter", "1", "runs entering a phase, by factory.phase"),
    "factory.stage.duration": ("histogram", "s", "Kilroy stage durations, by factory.stage"),
    "factory.queue.wait.duration": ("histogram", "s", "a Run's wait from creation to start"),
    "factory.gate.decisions": ("counter", "1", "acceptance gate decisions, by outcome"),
    "factory.stream.lag": ("histogram", "s", "event written -> read by the dashboard"),
}


def enabled(env: Mapping[str, str]) -> bool:
    """Whether the environment asks for telemetry."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(
        env.get(k)
        for k in (
            FILE_ENV,
            METRICS_FILE_ENV,
            LOGS_FILE_ENV,
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        )
    )


class Telemetry:
    """Spans for one process (see the module docstring); a no-op when tracing is off."""

    def __init__(
        self,
        tracer: Any = None,
        provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
    ) -> None:
        self._tracer = tracer
        self._provider = provider
        self._meter_provider = meter_provider
        self._logger_provider = logger_provider
        self._handler: Any = None
        if logger_provider is not None:
            from opentelemetry.sdk._logs import LoggingHandler

            self._handler = LoggingHandler(logger_provider=logger_provider)
            self._handler.addFilter(lambda record: getattr(record, EXPORT_FLAG, True))
            logger = logging.getLogger(LOGGER)
            logger.addHandler(self._handler)
            logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
        self._meter = meter_provider.get_meter("factoryos") if meter_provider else None
        self._instruments: dict[str, Any] = {}

    @property
    def on(self) -> bool:
        return self._tracer is not None

    @classmethod
    def off(cls) -> Telemetry:
        return cls()

    @classmethod
    def from_env(
        cls,
        service: str,
        env: Mapping[str, str],
        exporter: Any = None,
        metric_reader: Any = None,
        log_exporter: Any = None,
    ) -> Telemetry:
        """Telemetry for ``service`` as the environment says (tests pass an exporter/reader)."""
        if exporter is None and metric_reader is None and log_exporter is None and not enabled(env):
            return cls.off()
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        resource = Resource.create({"service.name": service})
        provider = TracerProvider(resource=resource)
        for found in [exporter] if exporter is not None else _exporters(env):
            provider.add_span_processor(SimpleSpanProcessor(found))
        readers = [metric_reader] if metric_reader is not None else _metric_readers(env)
        meters = MeterProvider(resource=resource, metric_readers=readers)
        logs = LoggerProvider(resource=resource)
        for found in [log_exporter] if log_exporter is not None else _log_exporters(env):
            logs.add_log_record_processor(SimpleLogRecordProcessor(found))
        return cls(provider.get_tracer("factoryos"), provider, meters, logs)

    def count(self, name: str, value: int = 1, **attributes: Any) -> None:
        """Add to the counter ``name`` (one of ``METRICS``)."""
        if self._meter is not None:
            self._instrument(name).add(value, _attributes(attributes))

    def observe(self, name: str, value: float, **attributes: Any) -> None:
        """Record ``value`` in the histogram ``name`` (one of ``METRICS``)."""
        if self._meter is not None:
            self._instrument(name).record(value, _attributes(attributes))

    def instrument_app(self, app: Any) -> None:
        """Spans and HTTP metrics for every request to a FastAPI ``app`` (when on)."""
        if self._tracer is None:
            return
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")  # the stable names
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self._provider,
            meter_provider=self._meter_provider,
            excluded_urls="healthz,static",
        )

    def _instrument(self, name: str) -> Any:
        found = self._instruments.get(name)
        if found is None:
            kind, unit, description = METRICS[name]
            meter: Any = self._meter
            make = meter.create_counter if kind == "counter" else meter.create_histogram
            found = self._instruments[name] = make(name, unit=unit, description=description)
        return found

    @contextlib.contextmanager
    def span(self, name: str, parent: str | None = None, **attributes: Any) -> Iterator[str | None]:
        """A span around the block, child of ``parent`` (a traceparent); yields its own."""
        if self._tracer is None:
            yield parent
            return
        with self._tracer.start_as_current_span(
            name, context=_context(parent), attributes=_attributes(attributes)
        ) as span:
            yield _traceparent(span)

    def record(
        self,
        name: str,
        start: datetime,
        end: datetime,
        parent: str | None,
        *,
        error: str | None = None,
        **attributes: Any,
    ) -> str | None:
        """A span that already happened (a Kilroy stage), with its own times."""
        if self._tracer is None:
            return parent
        from opentelemetry.trace import Status, StatusCode

        span = self._tracer.start_span(
            name,
            context=_context(parent),
            attributes=_attributes(attributes),
            start_time=_ns(start),
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=_ns(end))
        return _traceparent(span)

    def log(
        self, message: str, parent: str | None, *, warning: bool = False, logger: str = LOGGER
    ) -> None:
        """A log record in ``parent``'s trace (a traceparent), so it carries its trace and
        span ids; nothing when telemetry is off (and never a console line)."""
        if self._handler is None:
            return
        from opentelemetry import context

        token = context.attach(_context(parent)) if parent else None
        try:
            logging.getLogger(logger).log(logging.WARNING if warning else logging.INFO, message)
        finally:
            if token is not None:
                context.detach(token)

    def shutdown(self) -> None:
        """Export what is left (spans, the last metrics) and stop."""
        if self._provider is not None:
            self._provider.shutdown()
        if self._meter_provider is not None:
            self._meter_provider.shutdown()
        if self._handler is not None:
            logging.getLogger(LOGGER).removeHandler(self._handler)
        if self._logger_provider is not None:
            self._logger_provider.shutdown()


def _jsonl(env: Mapping[str, str], variable: str) -> Any:
    """The file ``variable`` names, opened for appending JSON lines; None when unset."""
    path = env.get(variable)
    if not path:
        return None
    return Path(path).open("a", buffering=1)


def _line(item: Any) -> str:
    return str(item.to_json(indent=None)) + "\n"


def _exporters(env: Mapping[str, str]) -> list[Any]:
    found: list[Any] = []
    out = _jsonl(env, FILE_ENV)
    if out is not None:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        found.append(ConsoleSpanExporter(out=out, formatter=_line))
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        found.append(OTLPSpanExporter())  # reads the OTEL_EXPORTER_OTLP_* variables itself
    return found


def _log_exporters(env: Mapping[str, str]) -> list[Any]:
    found: list[Any] = []
    out = _jsonl(env, LOGS_FILE_ENV)
    if out is not None:
        from opentelemetry.sdk._logs.export import ConsoleLogExporter

        found.append(ConsoleLogExporter(out=out, formatter=_line))
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        found.append(OTLPLogExporter())
    return found


def _metric_readers(env: Mapping[str, str]) -> list[Any]:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    found: list[Any] = []
    out = _jsonl(env, METRICS_FILE_ENV)
    if out is not None:
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        exporter = ConsoleMetricExporter(out=out, formatter=_line)
        found.append(PeriodicExportingMetricReader(exporter, export_interval_millis=60_000))
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        found.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    return found


def _context(parent: str | None) -> Any:
    if not parent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": parent})


def _traceparent(span: Any) -> str:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def _ns(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000_000)


def _attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k.replace("__", "."): v for k, v in values.items() if v is not None}
