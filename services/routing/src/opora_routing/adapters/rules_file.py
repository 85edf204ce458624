"""The routing rules in force, read from a file and reloaded when it changes.

A change that does not validate is logged with its errors and the rules in force stay: a typo
in the file must never stop routing. The directory is watched rather than the file, so that
editors' atomic saves and Kubernetes ConfigMap updates (a symlink swapped in the directory)
are seen; the file's content decides whether anything changed. The rules packaged with routing
(no path) never change at run time and are not watched.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import awatch

from opora_routing.domain.rules import RoutingRules, RulesError, load_rules, parse_rules

log = logging.getLogger(__name__)

OnChange = Callable[[RoutingRules], Awaitable[None]]
"""Called with the new rules after each successful reload."""


class RulesSource:
    """The current routing rules; a file given at start must be valid, later edits may not be."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._fingerprint: str | None = None
        self._rejected: str | None = None
        if path is None:
            self._rules = load_rules(None)
        else:
            raw = self._read(path)
            self._rules = parse_rules(raw, source=str(path))
            self._fingerprint = _fingerprint(raw)

    @property
    def current(self) -> RoutingRules:
        return self._rules

    @property
    def path(self) -> Path | None:
        return self._path

    def reload(self) -> RoutingRules | None:
        """Read the file again: the new rules when it changed and is valid, else None.

        Whatever goes wrong (the file vanished mid-save, bad YAML, a field that does not fit)
        is logged and the rules in force stay.
        """
        if self._path is None:
            return None
        try:
            raw = self._read(self._path)
        except RulesError as error:
            log.error(
                "routing rules not reloaded, version %s stays: %s", self._rules.version, error
            )
            return None
        fingerprint = _fingerprint(raw)
        if fingerprint in (self._fingerprint, self._rejected):
            return None
        try:
            rules = parse_rules(raw, source=str(self._path))
        except RulesError as error:
            self._rejected = fingerprint  # logged once, not on every event about the same text
            log.error("routing rules rejected, version %s stays: %s", self._rules.version, error)
            return None
        previous = self._rules
        if rules.version == previous.version:
            log.warning(
                "routing rules in %s changed but kept version %s: events cannot tell them apart",
                self._path,
                rules.version,
            )
        self._rules, self._fingerprint, self._rejected = rules, fingerprint, None
        log.info(
            "routing rules %s loaded from %s (were %s)", rules.version, self._path, previous.version
        )
        return rules

    async def watch(
        self,
        on_change: OnChange | None = None,
        *,
        stop_event: asyncio.Event | None = None,
        debounce_ms: int = 1600,
        retry_s: float = 5.0,
    ) -> None:
        """Reload on every change of the file until cancelled or ``stop_event`` is set."""
        if self._path is None:
            log.debug("packaged routing rules %s: nothing to watch", self._rules.version)
            return
        directory = self._path.parent
        while stop_event is None or not stop_event.is_set():
            try:
                async for _changes in awatch(
                    directory,
                    stop_event=stop_event,
                    debounce=debounce_ms,
                    step=min(50, debounce_ms),
                    recursive=False,
                ):
                    rules = self.reload()
                    if rules is not None and on_change is not None:
                        await self._notify(on_change, rules)
                return  # stop_event was set
            except Exception:  # the watcher itself failed (the directory went away, …)
                log.exception("watching %s failed; retrying in %g s", directory, retry_s)
                await asyncio.sleep(retry_s)
                rules = self.reload()  # a change while the watcher was down
                if rules is not None and on_change is not None:
                    await self._notify(on_change, rules)

    @staticmethod
    async def _notify(on_change: OnChange, rules: RoutingRules) -> None:
        try:
            await on_change(rules)
        except Exception:
            log.exception("handling routing rules %s failed", rules.version)

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8")
        except OSError as error:
            raise RulesError(f"cannot read routing rules {path}: {error}") from error


def _fingerprint(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
