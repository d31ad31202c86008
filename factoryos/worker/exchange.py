"""Candidates handed from build workloads to the evaluation through git, across volumes.

On a cluster each workload of a Run has its own volume (a ReadWriteOnce claim
holds on any number of nodes only if no two pods share it), so a candidate's
branch cannot be read from the builder's clone. Instead the worker, when the
Job gives it ``EXCHANGE_URL_ENV`` (the run's repository in the dashboard's git
service) and ``EXCHANGE_TOKEN_ENV`` (the run's own token):

- after a build succeeds, pushes the candidate's branch ``factory/<run>/c<i>``
  from its clone (``push_candidate``);
- before an evaluation, clones each candidate's branch into the clone folder
  the evaluation reads, ``layout.repo(i)``, with ``origin`` pointing at the
  product's own remote when it has one, so the winner's merge is pushed there
  (``fetch_candidates``). A resumed evaluation keeps the clones it has.

Git runs with the token in an ``http.extraHeader`` of this command only and
without the user's ``GIT_CONFIG_*`` variables, so the product's credentials
never reach the exchange and the exchange's token never reaches the product.
Without the variables (a laptop, one shared volume) nothing is exchanged.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from factoryos.errors import FactoryError, ToolMissingError
from factoryos.workloads import WorkloadSpec, candidate_branch
from factoryos.workloads.exchange import EXCHANGE_TOKEN_ENV, EXCHANGE_URL_ENV


class ExchangeError(FactoryError):
    """A candidate could not be handed over (the git service refused or is unreachable)."""


@dataclass(frozen=True)
class CandidateExchange:
    """The run's repository in the factory git service, and the token to use it."""

    url: str
    token: str
    env: Mapping[str, str]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CandidateExchange | None:
        url, token = env.get(EXCHANGE_URL_ENV), env.get(EXCHANGE_TOKEN_ENV)
        if not url or not token:
            return None
        return cls(url, token, env)

    def push_candidate(self, spec: WorkloadSpec) -> None:
        """Push the built candidate's branch from its clone."""
        clone, branch = spec.layout.repo(spec.candidate), candidate_branch(spec.run, spec.candidate)
        ref = f"refs/heads/{branch}"
        self._git(clone, "push", "--quiet", "--force", self.url, f"{ref}:{ref}")

    def fetch_candidates(self, spec: WorkloadSpec, candidates: list[int]) -> None:
        """Clone each candidate's branch where the evaluation looks for it."""
        for index in candidates:
            clone, branch = spec.layout.repo(index), candidate_branch(spec.run, index)
            if (clone / ".git").is_dir():
                continue  # a resumed evaluation: fetched by the attempt before
            clone.parent.mkdir(parents=True, exist_ok=True)
            partial = clone.with_name(clone.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)  # left by an attempt that died
            self._git(
                None, "clone", "--quiet", "--no-tags", "--branch", branch, self.url, str(partial)
            )
            origin = spec.repo_url or (str(spec.repo_path) if spec.repo_path else None)
            if origin is not None:
                self._git(partial, "remote", "set-url", "origin", origin)
            partial.rename(clone)

    def _git(self, repo: Path | None, *args: str) -> None:
        where = ["-C", str(repo)] if repo is not None else []
        header = ["-c", f"http.extraHeader=Authorization: Bearer {self.token}"]
        env = {k: v for k, v in self.env.items() if not k.startswith("GIT_CONFIG")}
        env["GIT_TERMINAL_PROMPT"] = "0"
        try:
            done = subprocess.run(
                ["git", *where, *header, *args],
                capture_output=True, text=True, errors="replace", env=env, check=False,
                timeout=300,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise ToolMissingError("git is not installed") from exc
        except subprocess.TimeoutExpired:
            raise ExchangeError(f"git {args[0]} with the factory git service timed out") from None
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["failed"])[-1]
            raise ExchangeError(f"git {args[0]} with the factory git service: {detail}")
