"""What `grade FILE` tells a waiting student, from what the grader itself knows: the step whose
answer it waits for, named by the grader's plan (never by text the child sends)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .model import Step
from .plan import chains

MAX_NAME = 60


def _verb(step: Step) -> str:
    if step.observe == "graph":
        return "exporting"
    if step.observe == "model":
        return "building a model of the grader's for"
    return {"train": "training", "predict": "predicting with"}.get(step.function or "", "checking")


def step_texts(steps: Sequence[Step]) -> dict[str, str]:
    """For each step, what the grading is doing while it waits for it: "training public/moons.mlp (3/9)",
    counted in chains of steps (a model's make, export, train, export, predict are one)."""
    cut = chains(steps)
    texts: dict[str, str] = {}
    for number, chain in enumerate(cut, 1):
        head = chain[0].name if len(chain[0].name) <= MAX_NAME else chain[0].name[:MAX_NAME - 1] + "…"
        for step in chain:
            texts[step.name] = f"{_verb(step)} {head} ({number}/{len(cut)})"
    return texts


def step_progress(steps: Sequence[Step], say: Callable[[str], None], prefix: str) -> Callable[[str | None], None]:
    """A callback for the runner: told the step waited for (or None), it says its text once per change."""
    texts = step_texts(steps)
    said: list[str] = []

    def told(step: str | None) -> None:
        text = texts.get(step or "")
        if text is not None and (not said or said[-1] != text):
            said.append(text)
            say(f"{prefix}{text}")
    return told
