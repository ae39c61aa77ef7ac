"""What the sandbox's rule mixins need from :class:`SandboxWorld`, which provides it."""

from __future__ import annotations

from typing import Any


class WorldPart:
    """The world's clock, its token check and its locked state, as the mixins see them."""

    app_id: str

    def now(self, world: dict[str, Any] | None = None) -> float:
        raise NotImplementedError

    def _live(self, world: dict[str, Any], token: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def state(self) -> Any:
        raise NotImplementedError
