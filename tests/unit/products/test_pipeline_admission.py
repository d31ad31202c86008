"""Admission validates a product's pipeline as its candidates will run it: with the agent
choice (the product's engine, a Run's override over it) as the model stylesheet."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryos.admission import CheckedPipelines, check_pipeline
from factoryos.errors import ValidationFailedError
from factoryos.models import Product
from factoryos.models.agents import AgentChoice, Provider


def product(repo: Path, engine: dict[str, str]) -> Product:
    return Product.model_validate({
        "apiVersion": "factoryos.dev/v1alpha1", "kind": "Product", "metadata": {"name": "app"},
        "spec": {"repo": {"path": str(repo)}, "engine": engine},
    })  # fmt: skip


def validated(repo: Path, engine: dict[str, str], run: AgentChoice | None = None) -> str:
    seen: list[str] = []
    check_pipeline(product(repo, engine), "pipeline.dot", lambda p: seen.append(p.read_text()), run)
    (text,) = seen
    return text


def test_the_engine_becomes_the_stylesheet_of_the_checked_copy(repo: Path) -> None:
    text = validated(repo, {"provider": "anthropic", "model": "claude-sonnet-4.5"})
    assert text.startswith("digraph p { start [shape=Mdiamond] ")  # the file, then ours
    assert "llm_provider: anthropic; llm_model: claude-sonnet-4.5;" in text


def test_a_runs_override_wins_over_the_products_choice(repo: Path) -> None:
    text = validated(repo, {"provider": "anthropic"}, AgentChoice(provider=Provider.GOOGLE))
    assert "llm_provider: google; llm_model: gemini-2.5-pro;" in text
    assert "anthropic" not in text


class TestOneRequest:
    """Within one request (``checked``), each pipeline and stylesheet is validated once."""

    def test_the_same_pipeline_and_stylesheet_is_validated_once(self, repo: Path) -> None:
        seen: list[Path] = []
        checked: CheckedPipelines = {}
        app = product(repo, {"provider": "anthropic"})
        for _ in range(3):
            check_pipeline(app, "pipeline.dot", seen.append, checked=checked)
        check_pipeline(app, "pipeline.dot", seen.append, AgentChoice(provider=Provider.GOOGLE),
                       checked=checked)  # fmt: skip
        assert len(seen) == 2  # once per stylesheet

    def test_a_refused_pipeline_is_refused_again_with_the_same_words(self, repo: Path) -> None:
        calls: list[Path] = []

        def refuse(path: Path) -> None:
            calls.append(path)
            raise ValidationFailedError(f"{path}: node n has no shape")

        checked: CheckedPipelines = {}
        app = product(repo, {"provider": "anthropic"})
        words = []
        for _ in range(2):
            with pytest.raises(ValidationFailedError) as refused:
                check_pipeline(app, "pipeline.dot", refuse, checked=checked)
            words.append(str(refused.value))
        assert len(calls) == 1
        assert words[0] == words[1] and f"{repo}@main:pipeline.dot" in words[0]

    def test_without_a_request_every_check_validates(self, repo: Path) -> None:
        seen: list[Path] = []
        app = product(repo, {"provider": "anthropic"})
        check_pipeline(app, "pipeline.dot", seen.append)
        check_pipeline(app, "pipeline.dot", seen.append)
        assert len(seen) == 2
