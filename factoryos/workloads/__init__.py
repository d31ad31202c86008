"""The workload contract: what launchers, the runner, the evaluation and the controller share.

The lowest layer above models and events (see docs/architecture.md). A
launcher writes a ``WorkloadSpec`` (``spec``); the worker process runs it as a
build (``factoryos.runner``) or an evaluation (``factoryos.evals``), which
append events and write a ``WorkloadResult`` (``result``) into the run
directory whose files ``RunDirectory`` names (``rundir``); an evaluation
follows its ``EvaluationPlan`` and writes an ``EvaluationReport``
(``evaluation``); the controller folds events into stage states with
``StageFold``, and on a cluster reads the runner's ``ProgressReporter``
summary instead (``stages``). Runner and evaluation meet only here.

Each name is imported on first use (``factoryos.imports``): ``sf pipeline run`` needs
the run directory's file names, not the evaluation models behind the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from factoryos.imports import lazy_attributes

if TYPE_CHECKING:
    from factoryos.workloads.evaluation import (
        HOLDOUTS_MOUNT,
        READABLE_FILE,
        REPORT_FILE,
        REPORT_VERSION,
        CandidateReport,
        EvaluationPlan,
        EvaluationReport,
        GateReport,
        Outcome,
        RoundReport,
        read_report,
        readable,
    )
    from factoryos.workloads.isolation import ISOLATION_UNAVAILABLE, Sandboxing
    from factoryos.workloads.result import (
        EXIT_CODES,
        Holdup,
        WorkloadResult,
        WorkloadStatus,
        read_result,
        write_result,
    )
    from factoryos.workloads.rundir import (
        EVENTS_FILE,
        LOGS_DIR,
        OUTPUT_FILE,
        PROCESS_FILE,
        RESULT_FILE,
        SPEC_FILE,
        RunDirectory,
        candidate_branch,
        evaluation_name,
        parse_workload_name,
        workload_name,
    )
    from factoryos.workloads.spec import (
        WorkloadKind,
        WorkloadSpec,
        load_spec,
        parse_spec,
    )
    from factoryos.workloads.stages import (
        EVALUATION_KEY,
        NAMESPACE_ENV,
        PROGRESS_ENV,
        RESULT_KEY,
        STAGES_KEY,
        ProgressReporter,
        ProgressSink,
        StageFold,
        progress_name,
    )

__all__ = [
    "EVALUATION_KEY",
    "EVENTS_FILE",
    "EXIT_CODES",
    "HOLDOUTS_MOUNT",
    "ISOLATION_UNAVAILABLE",
    "LOGS_DIR",
    "NAMESPACE_ENV",
    "OUTPUT_FILE",
    "PROCESS_FILE",
    "PROGRESS_ENV",
    "READABLE_FILE",
    "REPORT_FILE",
    "REPORT_VERSION",
    "RESULT_FILE",
    "RESULT_KEY",
    "SPEC_FILE",
    "STAGES_KEY",
    "CandidateReport",
    "EvaluationPlan",
    "EvaluationReport",
    "GateReport",
    "Holdup",
    "Outcome",
    "ProgressReporter",
    "ProgressSink",
    "RoundReport",
    "RunDirectory",
    "Sandboxing",
    "StageFold",
    "WorkloadKind",
    "WorkloadResult",
    "WorkloadSpec",
    "WorkloadStatus",
    "candidate_branch",
    "evaluation_name",
    "load_spec",
    "parse_spec",
    "parse_workload_name",
    "progress_name",
    "read_report",
    "read_result",
    "readable",
    "workload_name",
    "write_result",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "HOLDOUTS_MOUNT": "factoryos.workloads.evaluation",
        "READABLE_FILE": "factoryos.workloads.evaluation",
        "REPORT_FILE": "factoryos.workloads.evaluation",
        "REPORT_VERSION": "factoryos.workloads.evaluation",
        "CandidateReport": "factoryos.workloads.evaluation",
        "EvaluationPlan": "factoryos.workloads.evaluation",
        "EvaluationReport": "factoryos.workloads.evaluation",
        "GateReport": "factoryos.workloads.evaluation",
        "Outcome": "factoryos.workloads.evaluation",
        "RoundReport": "factoryos.workloads.evaluation",
        "read_report": "factoryos.workloads.evaluation",
        "readable": "factoryos.workloads.evaluation",
        "ISOLATION_UNAVAILABLE": "factoryos.workloads.isolation",
        "Sandboxing": "factoryos.workloads.isolation",
        "EXIT_CODES": "factoryos.workloads.result",
        "Holdup": "factoryos.workloads.result",
        "WorkloadResult": "factoryos.workloads.result",
        "WorkloadStatus": "factoryos.workloads.result",
        "read_result": "factoryos.workloads.result",
        "write_result": "factoryos.workloads.result",
        "EVENTS_FILE": "factoryos.workloads.rundir",
        "LOGS_DIR": "factoryos.workloads.rundir",
        "OUTPUT_FILE": "factoryos.workloads.rundir",
        "PROCESS_FILE": "factoryos.workloads.rundir",
        "RESULT_FILE": "factoryos.workloads.rundir",
        "SPEC_FILE": "factoryos.workloads.rundir",
        "RunDirectory": "factoryos.workloads.rundir",
        "candidate_branch": "factoryos.workloads.rundir",
        "evaluation_name": "factoryos.workloads.rundir",
        "parse_workload_name": "factoryos.workloads.rundir",
        "workload_name": "factoryos.workloads.rundir",
        "WorkloadKind": "factoryos.workloads.spec",
        "WorkloadSpec": "factoryos.workloads.spec",
        "load_spec": "factoryos.workloads.spec",
        "parse_spec": "factoryos.workloads.spec",
        "EVALUATION_KEY": "factoryos.workloads.stages",
        "NAMESPACE_ENV": "factoryos.workloads.stages",
        "PROGRESS_ENV": "factoryos.workloads.stages",
        "RESULT_KEY": "factoryos.workloads.stages",
        "STAGES_KEY": "factoryos.workloads.stages",
        "ProgressReporter": "factoryos.workloads.stages",
        "ProgressSink": "factoryos.workloads.stages",
        "StageFold": "factoryos.workloads.stages",
        "progress_name": "factoryos.workloads.stages",
    },
)
