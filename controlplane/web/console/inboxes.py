"""The notifier fakes serving in this process, so the console can show what each received."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class ReceivedMessage(Protocol):
    """One request a fake took, as the inbox page shows it."""

    @property
    def endpoint(self) -> str: ...

    @property
    def at(self) -> datetime: ...

    @property
    def body(self) -> Any: ...

    @property
    def note(self) -> str: ...


class Inbox(Protocol):
    """What a fake received, oldest first (the test benches' fakes keep one)."""

    @property
    def received(self) -> Sequence[ReceivedMessage]: ...


@dataclass(frozen=True, eq=False)
class ShownFake:
    """One running fake: what to call it, where it serves, and its inbox."""

    name: str
    url: str
    inbox: Inbox


class RunningFakes:
    """Fakes register while they serve (`make run`, a test); the inbox page lists them."""

    def __init__(self) -> None:
        self._shown: list[ShownFake] = []

    def shown(self) -> list[ShownFake]:
        return list(self._shown)

    @contextmanager
    def showing(self, fakes: Iterable[ShownFake]) -> Iterator[None]:
        """Show `fakes` on the inbox page until the block exits."""
        added = list(fakes)
        self._shown.extend(added)
        try:
            yield
        finally:
            self._shown = [fake for fake in self._shown if all(fake is not a for a in added)]


# One per process, as the fakes it lists are: whoever starts a fake need not know the app.
running_fakes = RunningFakes()
