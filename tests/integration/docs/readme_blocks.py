"""The README's command blocks, parsed, and a small shell that runs them as a user would.

Every ```console block of README.md follows an HTML comment the rendered page does not
show, ``<!-- readme-test: NAME -->``; test_readme.py runs (or, for the cluster tier,
checks) each block by its name, so a command the README shows cannot drift from what
the code does. A block's commands are its ``$ `` lines (or every line, in blocks
without prompts), with ``\\`` continuations joined and trailing ``# comments`` dropped;
the lines after a command are what the README says it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
TAGGED = re.compile(
    r"^<!-- readme-test: (?P<tag>[a-z-]+) -->\n```console\n(?P<body>.*?)^```", re.S | re.M
)
_COMMENT = re.compile(r"\s+# .*$")


@dataclass(frozen=True)
class Command:
    text: str
    """The command as typed: continuations joined, the trailing comment dropped."""
    output: tuple[str, ...] = ()
    """What the README shows it printing."""

    def checkable_output(self, home: Path) -> list[str]:
        """The shown lines that must appear as printed: those without elisions or
        digits (times, ids, ports vary), ``~`` as ``home``, spaces collapsed."""
        return [
            _words(line.replace("~", str(home)))
            for line in self.output
            if line.strip() and "..." not in line and not re.search(r"\d", line)
        ]


def blocks(text: str | None = None) -> dict[str, list[Command]]:
    """The tagged blocks of the README by name."""
    text = README.read_text() if text is None else text
    found: dict[str, list[Command]] = {}
    for match in TAGGED.finditer(text):
        found[match["tag"]] = parse(match["body"])
    return found


def console_block_count(text: str | None = None) -> int:
    text = README.read_text() if text is None else text
    return len(re.findall(r"^```console$", text, re.M))


def parse(body: str) -> list[Command]:
    lines = body.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    commands: list[Command] = []
    current: list[str] = []
    output: list[str] = []

    def flush() -> None:
        if current:
            commands.append(Command(" ".join(current), tuple(output)))
        current.clear()
        output.clear()

    continuing = False
    for line in lines:
        if continuing:
            current.append(_strip(line).strip())
        elif prompted and line.startswith("$ "):
            flush()
            current.append(_strip(line[2:]))
        elif not prompted and line.strip() and not line.startswith(" "):
            flush()
            current.append(_strip(line))
        elif current:
            output.append(line)
        continuing = bool(current) and current[-1].endswith("\\")
        if continuing:
            current[-1] = current[-1][:-1].rstrip()
    flush()
    return commands


def _strip(line: str) -> str:
    return _COMMENT.sub("", line).rstrip()


def _words(line: str) -> str:
    return " ".join(line.split())


@dataclass
class Shell:
    """Runs a block's commands one after the other, like one terminal (plus ``sf up``
    in another): ``export`` sets a variable for what follows, ``sf up`` starts in the
    background. ``substitutions`` replace the README's placeholders (a key, a URL)."""

    env: dict[str, str]
    cwd: Path
    substitutions: Mapping[str, str] = field(default_factory=dict)
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return Path(self.env["HOME"])

    def resolve(self, command: Command) -> str:
        text = command.text
        for placeholder, value in self.substitutions.items():
            text = text.replace(placeholder, value)
        return text

    def run(self, command: Command, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run one command (it must succeed and print what the README shows)."""
        text = self.resolve(command)
        self.transcript.append(f"$ {text}")
        exported = re.fullmatch(r"export (\w+)=(\S+)", text)
        if exported:
            self.env[exported[1]] = exported[2]
            return subprocess.CompletedProcess(text, 0, "", "")
        done = subprocess.run(["bash", "-c", text], env=self.env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        printed = done.stdout + done.stderr
        self.transcript.append(printed)
        assert done.returncode == 0, f"`{text}` exited {done.returncode}:\n{printed[-3000:]}"
        shown = {_words(line) for line in printed.splitlines()}
        for line in command.checkable_output(self.home):
            assert line in shown, f"`{text}` did not print {line!r}; it printed:\n{printed}"
        return done

    def start(
        self, command: Command, log: Path, ready: Callable[[str], bool], timeout: float = 60
    ) -> str:
        """Start a long-running command (``sf up``) and wait until ``ready(its output)``."""
        text = self.resolve(command)
        self.transcript.append(f"$ {text} &")
        with log.open("ab") as out:
            self.background.append(subprocess.Popen(
                ["bash", "-c", f"exec {text}"], env=self.env, cwd=self.cwd, stdout=out,
                stderr=subprocess.STDOUT,
            ))  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            printed = log.read_text(errors="replace")
            if ready(printed):
                for line in command.checkable_output(self.home):
                    assert line in {_words(x) for x in printed.splitlines()}, (line, printed)
                return printed
            assert self.background[-1].poll() is None, f"`{text}` exited:\n{printed}"
            time.sleep(0.1)
        raise AssertionError(f"`{text}` was not ready in {timeout}s")

    def stop(self) -> None:
        for process in self.background:
            if process.poll() is None:
                process.send_signal(2)  # Ctrl-C, as the README says
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.background.clear()


def user_env(home: Path, base: Mapping[str, str]) -> dict[str, str]:
    """A new user's environment: their own HOME, no factory home or provider keys set."""
    env = {k: v for k, v in base.items() if not k.endswith("_API_KEY")}
    env.pop("FACTORYOS_HOME", None)
    env["HOME"] = str(home)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / ".tools" / "bin"),
                                   env.get("PATH", "")])  # fmt: skip
    return env
