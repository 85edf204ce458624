"""The policies and calendars in force, read from files and reloaded when they change.

Both files are validated together at start-up (a broken file stops the service from starting)
and on every change; a change that does not validate is logged with its errors and the files in
force stay: a typo must never stop the clocks. Directories are watched rather than files, so
that editors' atomic saves and Kubernetes ConfigMap updates (a symlink swapped in the
directory) are seen ([watchfiles](https://github.com/samuelcolvin/watchfiles)). A new meaning
(not a new comment) gets the next version number from the registry, the same on every replica.
The files packaged with sla (no path) never change at run time and are not watched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import awatch

from opora_sla.domain.calendars import CalendarError, load_calendars
from opora_sla.domain.policies import PolicyError, SlaConfig, load_policies
from opora_sla.domain.ports import Versions

log = logging.getLogger(__name__)

OnChange = Callable[[SlaConfig], Awaitable[None]]
"""Called with the new configuration after each successful reload."""


class PolicyFiles:
    """``current`` is what the use cases measure with (``ports.Policies``)."""

    def __init__(
        self, versions: Versions, policies: Path | None = None, calendars: Path | None = None
    ) -> None:
        self._versions = versions
        self._policies_path = policies
        self._calendars_path = calendars
        self._config = self._read()
        self._registered = False
        self._rejected: str | None = None

    @property
    def current(self) -> SlaConfig:
        return self._config

    @property
    def watched(self) -> tuple[Path, ...]:
        paths = (self._policies_path, self._calendars_path)
        return tuple(sorted({path.parent for path in paths if path is not None}))

    async def register(self) -> SlaConfig:
        """Give the configuration read at start its version number (needs the database)."""
        if not self._registered:
            version = await self._versions.version_of(
                self._config.fingerprint, description=self._describe(self._config)
            )
            self._config = self._config.with_version(version)
            self._registered = True
            log.info("SLA policies and calendars v%s in force", version)
        return self._config

    async def reload(self) -> SlaConfig | None:
        """Read both files again: the new configuration when its meaning changed and it is
        valid, else None. A file that does not validate is logged once and ignored; a registry
        that cannot be reached raises (the caller tries again)."""
        try:
            config = self._read()
        except (PolicyError, CalendarError) as error:
            text = str(error)
            if text != self._rejected:
                self._rejected = text
                log.error(
                    "SLA policies or calendars rejected, v%s stays: %s", self._config.version, text
                )
            return None
        self._rejected = None
        if config.fingerprint == self._config.fingerprint:
            return None
        version = await self._versions.version_of(
            config.fingerprint, description=self._describe(config)
        )
        previous, self._config = self._config, config.with_version(version)
        log.info("SLA policies and calendars v%s loaded (were v%s)", version, previous.version)
        return self._config

    async def watch(
        self,
        on_change: OnChange | None = None,
        *,
        stop_event: asyncio.Event | None = None,
        debounce_ms: int = 800,
        retry_s: float = 5.0,
    ) -> None:
        """Reload on every change in the files' directories until cancelled or stopped."""
        directories = self.watched
        if not directories:
            log.debug("packaged SLA policies and calendars: nothing to watch")
            return
        while stop_event is None or not stop_event.is_set():
            try:
                async for _changes in awatch(
                    *directories,
                    stop_event=stop_event,
                    debounce=debounce_ms,
                    step=min(50, debounce_ms),
                    recursive=False,
                ):
                    await self._reload_and_notify(on_change)
                return  # stop_event was set
            except Exception:  # the watcher or the registry failed
                log.exception("watching the SLA policies failed; retrying in %g s", retry_s)
                await asyncio.sleep(retry_s)
                await self._reload_and_notify(on_change)

    async def _reload_and_notify(self, on_change: OnChange | None) -> None:
        config = await self.reload()
        if config is None or on_change is None:
            return
        try:
            await on_change(config)
        except Exception:
            log.exception("applying SLA policies v%s failed", config.version)

    def _read(self) -> SlaConfig:
        return SlaConfig.build(
            load_policies(self._policies_path), load_calendars(self._calendars_path)
        )

    def _describe(self, config: SlaConfig) -> str:
        policies = ", ".join(p.id for p in config.policies.policies)
        return (
            f"policies {self._policies_path or 'packaged'} ({policies}); "
            f"calendars {self._calendars_path or 'packaged'}"
        )
