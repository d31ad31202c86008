"""The eval harness: runs holdout scenarios against one candidate and records every trial.

It runs in its own process (``sf eval run``; on a cluster, its own Job), and
it is the only thing that reads the holdout folder. The candidate's code
runs in the candidate's worktree with a scrubbed environment: ``PATH``,
``HOME``, ``LANG`` and ``PORT`` only, so neither the holdout path nor any
Factory OS setting reaches it; scenario files are never copied anywhere.
Where the factory sandboxes candidates, the candidate's code runs in a
sandbox too (``candidate_command``: bubblewrap, ``factoryos.kilroy.sandbox``),
where the holdouts the harness reads are not there to be read.

``command`` scenarios run a shell command in the worktree. ``http``
scenarios talk to the candidate's service, started once with ``serve``
(``$PORT`` set to a free port) and waited for until ``ready_path`` answers.
``voice`` scenarios speak their prompt (text to speech), post it to the
candidate's service and transcribe its spoken answer (``voice`` providers).
Each scenario's ``setup`` runs once, then its repetitions; a repetition
passes when every check in ``expect`` holds within ``timeout_seconds``.

httpx is imported by the methods that talk to the service, not with the
module: the verifiers (``candidate_command``) and ``sf product deploy``
(``passed_env``) import from here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factoryos.errors import InvalidInputError
from factoryos.evals.scenarios import Expect, Scenario
from factoryos.voice.contract import VoiceError
from factoryos.voice.fallback import FallbackSpeechToText, FallbackTextToSpeech
from factoryos.voice.wer import word_error_rate, words

if TYPE_CHECKING:  # a type only: `sf product` imports this module, not the sandbox
    from factoryos.kilroy.sandbox import Sandbox

#: Text to speech for prompts, speech to text for answers.
Voice = tuple[FallbackTextToSpeech, FallbackSpeechToText]

#: The only variables a candidate's processes get from the harness's environment.
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
#: How long a candidate's service gets to answer its ready path.
SERVICE_START_SECONDS = 60.0


def passed_env(env: Mapping[str, str]) -> dict[str, str]:
    """Only the ``PASSED_ENV`` variables of ``env``: what a candidate's (or a deploy's)
    processes may see of ours."""
    return {k: env[k] for k in PASSED_ENV if k in env}


def candidate_command(
    command: str, worktree: Path, env: Mapping[str, str], sandbox: Sandbox | None = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of ``bash -c command`` run as the candidate's code in
    ``worktree``: only ``PASSED_ENV`` of ``env``; in ``sandbox`` when given, with a home
    of its own next to the worktree (in the sandbox's writable folder) and the
    sandbox's private ``/tmp``."""
    clean = passed_env(env)
    argv = ["bash", "-c", command]
    if sandbox is None:
        return argv, clean
    home = worktree.parent / "home"
    home.mkdir(parents=True, exist_ok=True)
    clean |= {"HOME": str(home), "TMPDIR": "/tmp"}  # noqa: S108 - the sandbox's own
    return sandbox.argv(argv, cwd=worktree), clean


@dataclass(frozen=True)
class ServiceSpec:
    """How to run the candidate as a service for ``http`` scenarios."""

    command: str
    ready_path: str = "/"
    start_seconds: float = SERVICE_START_SECONDS


@dataclass(frozen=True)
class TrialRecord:
    """One repetition of one scenario against one candidate."""

    scenario: str
    pool: str
    repetition: int
    passed: bool
    seconds: float
    #: Which check failed (for people; feedback to candidates names only the scenario id).
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Harness:
    """Runs scenarios against the candidate in ``worktree``."""

    def __init__(
        self,
        worktree: Path,
        env: Mapping[str, str],
        service: ServiceSpec | None = None,
        voice: Voice | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.worktree = worktree
        self.env = passed_env(env)
        self.service = service
        self.voice = voice
        self.sandbox = sandbox
        self._base_url: str | None = None

    def run(
        self,
        scenarios: list[Scenario],
        repetitions: int = 1,
        on_trial: Callable[[TrialRecord], None] | None = None,
    ) -> list[TrialRecord]:
        """Every scenario ``repetitions`` times; ``on_trial`` hears each trial as it ends."""
        if repetitions < 1:
            raise InvalidInputError(f"repetitions must be at least 1, got {repetitions}")
        records: list[TrialRecord] = []
        with self.session(scenarios) as trial:
            for scenario in scenarios:
                for repetition in range(1, repetitions + 1):
                    record = trial(scenario, repetition)
                    records.append(record)
                    if on_trial is not None:
                        on_trial(record)
        return records

    @contextmanager
    def session(
        self, scenarios: list[Scenario]
    ) -> Iterator[Callable[[Scenario, int], TrialRecord]]:
        """A function running one repetition of a scenario, with the service up meanwhile.

        A scenario's setup runs before its first repetition in the session.
        """
        for scenario in scenarios:
            if scenario.needs_voice and self.voice is None:
                raise InvalidInputError(
                    f"scenario {scenario.id}: a voice exchange needs speech providers: "
                    "install factoryos[voice] or set a cloud provider's key"
                )
            if (scenario.interaction.http or scenario.interaction.voice) and self.service is None:
                raise InvalidInputError(
                    f"scenario {scenario.id}: an http or voice exchange needs the product's "
                    "service (spec.service)"
                )
        setups: dict[str, str | None] = {}

        def trial(scenario: Scenario, repetition: int) -> TrialRecord:
            if scenario.setup_key not in setups:
                setups[scenario.setup_key] = self._setup(scenario)
            problem = setups[scenario.setup_key]
            if problem:
                return TrialRecord(
                    scenario.id, scenario.pool.value, repetition, False, 0.0, problem
                )
            return self._trial(scenario, repetition)

        needs_service = any(s.interaction.http or s.interaction.voice for s in scenarios)
        with self._serving(needs_service):
            yield trial

    # -- one trial -----------------------------------------------------------------

    def _trial(self, scenario: Scenario, repetition: int) -> TrialRecord:
        started = time.monotonic()
        try:
            if scenario.interaction.command is not None:
                reason = self._command(scenario)
            elif scenario.interaction.voice is not None:
                reason = self._voice(scenario)
            else:
                reason = self._http(scenario)
        except TimeoutError:
            reason = f"timed out after {scenario.timeout_seconds:g}s"
        return TrialRecord(
            scenario.id,
            scenario.pool.value,
            repetition,
            reason is None,
            round(time.monotonic() - started, 3),
            reason,
        )

    def _command(self, scenario: Scenario) -> str | None:
        interaction = scenario.interaction
        assert interaction.command is not None
        code, stdout = self._shell(interaction.command, scenario.timeout_seconds, interaction.stdin)
        return check_command(scenario.expect, code, stdout)

    def _http(self, scenario: Scenario) -> str | None:
        exchange = scenario.interaction.http
        assert exchange is not None and self._base_url is not None
        import httpx

        try:
            response = httpx.request(
                exchange.method,
                self._base_url + exchange.path,
                json=exchange.body if exchange.body is not None else None,
                headers=exchange.headers,
                timeout=scenario.timeout_seconds,
            )
        except httpx.TimeoutException as exc:
            raise TimeoutError from exc
        except httpx.HTTPError as exc:
            return f"request failed: {exc}"
        return check_http(scenario.expect, response.status_code, response.text)

    def _voice(self, scenario: Scenario) -> str | None:
        exchange = scenario.interaction.voice
        assert exchange is not None and self.voice is not None and self._base_url is not None
        tts, stt = self.voice
        import httpx

        try:
            prompt = tts.synthesize(exchange.say)
        except VoiceError as exc:
            return f"could not speak the prompt: {exc}"
        try:
            response = httpx.post(
                self._base_url + exchange.endpoint, content=prompt.data,
                headers={"Content-Type": "audio/wav"}, timeout=scenario.timeout_seconds,
            )  # fmt: skip
        except httpx.TimeoutException as exc:
            raise TimeoutError from exc
        except httpx.HTTPError as exc:
            return f"request failed: {exc}"
        if response.status_code != 200 or not response.content:
            return f"the voice endpoint answered {response.status_code} with no audio"
        kind = response.headers.get("content-type", "audio/wav").split(";")[0]
        try:
            heard = stt.transcribe(response.content, content_type=kind).text
        except VoiceError as exc:
            return f"could not transcribe the answer: {exc}"
        return check_transcript(scenario.expect, heard)

    def _setup(self, scenario: Scenario) -> str | None:
        for command in scenario.setup:
            try:
                code, _ = self._shell(command, scenario.timeout_seconds)
            except TimeoutError:
                return f"setup timed out after {scenario.timeout_seconds:g}s"
            if code != 0:
                return f"setup command {scenario.setup.index(command) + 1} exited {code}"
        return None

    def _shell(self, command: str, timeout: float, stdin: str = "") -> tuple[int, str]:
        argv, env = self._candidate(command)
        proc = subprocess.Popen(
            argv,
            cwd=self.worktree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, _ = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise TimeoutError from None
        return proc.returncode, stdout

    def _candidate(self, command: str, port: int | None = None) -> tuple[list[str], dict[str, str]]:
        argv, env = candidate_command(command, self.worktree, self.env, self.sandbox)
        if port is not None:
            env["PORT"] = str(port)
        return argv, env

    # -- the candidate's service ------------------------------------------------------

    @contextmanager
    def _serving(self, needed: bool) -> Iterator[None]:
        if not needed or self.service is None:
            yield
            return
        port = _free_port()
        argv, env = self._candidate(self.service.command, port)
        proc = subprocess.Popen(
            argv,
            cwd=self.worktree,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._base_url = f"http://127.0.0.1:{port}"
            self._wait_ready(proc)
            yield
        finally:
            _kill_group(proc)
            self._base_url = None

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        assert self.service is not None and self._base_url is not None
        import httpx

        deadline = time.monotonic() + self.service.start_seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise InvalidInputError(
                    f"the candidate's service exited ({proc.returncode}) before it was ready"
                )
            try:
                httpx.get(self._base_url + self.service.ready_path, timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise InvalidInputError(
            f"the candidate's service did not answer {self.service.ready_path} "
            f"within {self.service.start_seconds:g}s"
        )


def check_command(expect: Expect, code: int, stdout: str) -> str | None:
    """Why a command's outcome fails ``expect``, or None when it passes."""
    if expect.exit_code is not None and code != expect.exit_code:
        return f"exit status {code}, expected {expect.exit_code}"
    return _check_text(expect.stdout_contains, expect.stdout_matches, stdout, "output")


def check_http(expect: Expect, status: int, body: str) -> str | None:
    """Why an HTTP response fails ``expect``, or None when it passes."""
    if expect.status is not None and status != expect.status:
        return f"status {status}, expected {expect.status}"
    problem = _check_text(expect.body_contains, None, body, "body")
    if problem or expect.json_equals is None:
        return problem
    try:
        doc = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    if not isinstance(doc, dict):
        return "the body is not a JSON object"
    for key, value in expect.json_equals.items():
        if doc.get(key) != value:
            return f"json key {key!r} differs"
    return None


def check_transcript(expect: Expect, heard: str) -> str | None:
    """Why a spoken answer's transcript fails ``expect``, or None when it passes."""
    said = words(heard)
    for index, key in enumerate(expect.transcript_contains, 1):
        if not all(w in said for w in words(key)):
            return f"the answer lacks expected words #{index}"
    if expect.transcript is not None:
        rate = word_error_rate(expect.transcript, heard)
        if rate > expect.max_wer:
            return f"word error rate {rate:.2f} above {expect.max_wer:g}"
    return None


def _check_text(contains: list[str], matches: str | None, text: str, what: str) -> str | None:
    for index, needle in enumerate(contains, 1):
        if needle not in text:
            return f"{what} lacks expected text #{index}"
    if matches is not None and re.search(matches, text, re.MULTILINE) is None:
        return f"{what} does not match the expected pattern"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
