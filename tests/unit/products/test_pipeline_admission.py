"""Admission validates a product's pipeline as its candidates will run it: with the agent
choice (the product's engine, a Run's override over it) as the model stylesheet."""

from __future__ import annotations

from pathlib import Path

from factoryos.admission import check_pipeline
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
