"""Where Factory OS keeps things and which tools it uses.

``Settings`` is built once by an adapter (``Settings.from_env()``) and passed
down; nothing in the core reads the environment on its own. Every field can be
set by an environment variable, named next to it. It is a ``NamedTuple``, not a
dataclass, like the other records on ``sf pipeline run``'s way to Kilroy's start
(docs/decisions.md, issue 19 part 2): ``dataclasses`` and a frozen dataclass cost
that start 9 ms and 1 ms each. ``_replace`` makes a changed copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

#: The default nice value of a local build: the lowest priority (a weight of 15 against a
#: nice-0 scheduling group's 1024), so even 100 builds at once weigh about as much as the
#: dashboard's group. At 10 (weight 110) 100 runs still made the dashboard wait a second
#: (docs/decisions.md, "Event delivery to the dashboard").
BUILD_NICE = 19

#: The folder `make tools` installs into, inside a source checkout.
SOURCE_TOOLS_DIR = Path(__file__).resolve().parent.parent / ".tools" / "bin"


class Settings(NamedTuple):
    """Runtime settings of one Factory OS process."""

    #: FACTORYOS_HOME: the store, run directories and Kilroy state (default ~/.factoryos).
    home: Path
    #: FACTORYOS_KILROY: an explicit Kilroy binary (wins over everything else).
    kilroy_binary: Path | None = None
    #: FACTORYOS_TOOLS_DIR: the project tools folder searched before PATH.
    tools_dir: Path = SOURCE_TOOLS_DIR
    #: The PATH used to look tools up last.
    search_path: str = ""
    #: FACTORYOS_RUNNER_PREWARM (default 1): fork local runners from a warm fork server;
    #: 0 starts each as a fresh ``python -m factoryos.worker``.
    runner_prewarm: bool = True
    #: FACTORYOS_SANDBOX (default 1): run each local candidate's Kilroy in a bubblewrap
    #: sandbox where one works; 0 runs them unsandboxed (``sf up`` and every Run say so).
    sandbox: bool = True
    #: FACTORYOS_CONTEXT (``sf --context``): a kubeconfig context; when set, ``sf`` works on
    #: that cluster's Products and Runs instead of the local store.
    kube_context: str | None = None
    #: KUBECONFIG (``sf --kubeconfig``): the kubeconfig file(s) for ``kube_context``.
    kubeconfig: str | None = None
    #: FACTORYOS_DASHBOARD_URL and FACTORYOS_DASHBOARD_TOKEN: where ``sf`` reads a cluster
    #: run's events (the dashboard keeps them; e.g. after a port-forward of its Service).
    dashboard_url: str | None = None
    dashboard_token: str | None = None  # left out of the repr
    #: FACTORYOS_BUILD_NICE (default 19, the lowest priority; 0 to 19): the nice value of
    #: each local build (Kilroy and all it starts) and of its session's scheduling group,
    #: so the runners, the control plane and the dashboard get the CPU first in a burst
    #: (``factoryos.kilroy.priority``); 0 runs builds at the usual priority.
    build_nice: int = BUILD_NICE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from environment variables, with defaults."""
        env = os.environ if env is None else env
        home = Path(env.get("FACTORYOS_HOME") or Path.home() / ".factoryos").expanduser()
        kilroy = env.get("FACTORYOS_KILROY")
        tools = env.get("FACTORYOS_TOOLS_DIR")
        return cls(
            home=home.resolve(),
            kilroy_binary=Path(kilroy).expanduser() if kilroy else None,
            tools_dir=Path(tools).expanduser() if tools else _default_tools_dir(home),
            search_path=env.get("PATH", ""),
            runner_prewarm=_on(env.get("FACTORYOS_RUNNER_PREWARM", "1")),
            sandbox=_on(env.get("FACTORYOS_SANDBOX", "1")),
            kube_context=env.get("FACTORYOS_CONTEXT") or None,
            kubeconfig=env.get("KUBECONFIG") or None,
            dashboard_url=env.get("FACTORYOS_DASHBOARD_URL") or None,
            dashboard_token=env.get("FACTORYOS_DASHBOARD_TOKEN") or None,
            build_nice=_nice(env.get("FACTORYOS_BUILD_NICE") or str(BUILD_NICE)),
        )

    def __repr__(self) -> str:
        shown = (f"{k}={v!r}" for k, v in self._asdict().items() if k != "dashboard_token")
        return f"Settings({', '.join(shown)})"

    @property
    def runs_dir(self) -> Path:
        """Run directories: one per run, holding the event log and Kilroy's logs_root."""
        return self.home / "runs"

    @property
    def kilroy_state_dir(self) -> Path:
        """XDG_STATE_HOME given to Kilroy, so its runs.db stays inside FACTORYOS_HOME."""
        return self.home / "kilroy-state"


def _on(value: str) -> bool:
    """A boolean variable: anything but 0, false, no or off is on."""
    return value.strip().lower() not in {"0", "false", "no", "off"}


def _nice(value: str) -> int:
    """FACTORYOS_BUILD_NICE: a whole number from 0 to 19."""
    try:
        nice = int(value.strip())
    except ValueError:
        nice = -1
    if not 0 <= nice <= 19:
        # Imported here: the read-only commands import this module and nothing else of ours.
        from factoryos.errors import ConfigurationError

        raise ConfigurationError(f"FACTORYOS_BUILD_NICE must be 0 to 19, got {value!r}")
    return nice


def _default_tools_dir(home: Path) -> Path:
    """The checkout's .tools/bin when running from source, else $FACTORYOS_HOME/tools/bin."""
    return SOURCE_TOOLS_DIR if SOURCE_TOOLS_DIR.is_dir() else home / "tools" / "bin"
