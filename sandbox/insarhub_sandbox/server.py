"""`Sandbox`: the catalog, HyP3 and file servers on one loopback port, with admin routes.

Admin routes (never faulted), used by tests and the demo through `SandboxAdmin`:
`GET /_sandbox/health`, `GET|POST /_sandbox/clock` (`{"now": iso}`, `{"advance_days": n}` or `{"reset": true}`),
`GET|POST /_sandbox/faults` (`{"group": {"error_rate": .., "latency_s": .., "drop_rate": ..}}`,
`{}` clears them),
`GET|POST|DELETE /_sandbox/events` (deformation events of the simulated Earth, see `earth_events`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Protocol

from insarhub_sandbox.catalog.service import CatalogService
from insarhub_sandbox.catalog.stacks import UTAH_STACKS
from insarhub_sandbox.clock import SandboxClock
from insarhub_sandbox.earth.events import DeformationEvent, EventBook
from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.http import (
    Faults,
    Request,
    Response,
    Router,
    SandboxHTTPServer,
    error_response,
    json_response,
)
from insarhub_sandbox.hyp3.service import Hyp3Service
from insarhub_sandbox.options import SANDBOX_TOKEN, SandboxOptions

log = logging.getLogger(__name__)

__all__ = ["SANDBOX_TOKEN", "Sandbox", "SandboxOptions"]


class Service(Protocol):
    def register(self, router: Router) -> None: ...


class Sandbox:
    """All sandbox services on one `host:port` (port 0 = a free one)."""

    def __init__(self, options: SandboxOptions, host: str = "127.0.0.1", port: int = 0) -> None:
        self.options = options
        options.data_dir.mkdir(parents=True, exist_ok=True)
        self.clock = SandboxClock(options.now)
        self.router = Router()
        self.server = SandboxHTTPServer((host, port), self.router, seed=options.seed)
        self.services: dict[str, Service] = {}
        world = options.extra.get("world")
        given = [*options.extra.get("initial_events", []), *(world.events if world else [])]
        if world is not None:
            from insarhub_sandbox.earth.model import DEFAULT_SITES

            options.extra.setdefault("earth_sites", [*DEFAULT_SITES, *world.sites])
        initial = [e if isinstance(e, DeformationEvent) else DeformationEvent.from_dict(e)
                   for e in given]
        self.events = EventBook(options.data_dir, initial)
        options.extra["events"] = self.events.events  # the list the simulated Earth reads
        self._register_admin()
        self._build_services()

    @property
    def url(self) -> str:
        return self.server.url

    def _build_services(self) -> None:
        world = self.options.extra.get("world")  # catalog.world.World: N AOIs beside Utah's
        stacks = (*UTAH_STACKS, *world.stacks) if world is not None else UTAH_STACKS
        catalog = CatalogService(clock=self.clock, data_dir=self.options.data_dir,
                                 base_url=self.url, stacks=stacks)
        self.services["catalog"] = catalog
        self.services["hyp3"] = Hyp3Service(
            clock=self.clock, catalog=catalog, options=self.options, base_url=self.url
        )
        from insarhub_sandbox.disp.service import DispService

        hyp3 = self.services["hyp3"]
        disp = DispService(catalog.records, hyp3.renderer._simulated_earth,  # type: ignore[attr-defined]
                           self.options.data_dir, self.url)
        catalog.extra_tables.update(disp.tables)
        self.services["disp"] = disp
        for service in self.services.values():
            service.register(self.router)

    def env(self) -> dict[str, str]:
        """The environment that points every insarhub entry point at this sandbox."""
        return {
            "INSARHUB_ASF_URL": self.url,
            "INSARHUB_HYP3_URL": self.url,
            "EARTHDATA_TOKEN": SANDBOX_TOKEN,
            "OPERA_UTILS_DATA_DIR": str((self.options.data_dir / "opera_utils").resolve()),
        }

    def start(self) -> Sandbox:
        """Serve in a background thread."""
        self.server.start_background()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- admin ---------------------------------------------------------------------------
    def _register_admin(self) -> None:
        add = self.router.add
        add("GET", "/_sandbox/health", lambda r: json_response({"ok": True}), "admin")
        add("GET", "/_sandbox/clock", self._get_clock, "admin")
        add("POST", "/_sandbox/clock", self._set_clock, "admin")
        add("GET", "/_sandbox/faults", self._get_faults, "admin")
        add("POST", "/_sandbox/faults", self._set_faults, "admin")
        add("GET", "/_sandbox/events", lambda r: json_response(self.events.listing()), "admin")
        add("POST", "/_sandbox/events", self._add_event, "admin")
        add("DELETE", "/_sandbox/events", self._clear_events, "admin")

    def _get_clock(self, request: Request) -> Response:
        return json_response({"now": self.clock.now().isoformat()})

    def _set_clock(self, request: Request) -> Response:
        body = request.json() or {}
        if body.get("reset"):
            self.clock.set(SandboxClock().now())
        if body.get("now"):
            self.clock.set(body["now"])
        if "advance_days" in body:
            self.clock.advance(days=float(body["advance_days"]))
        return self._get_clock(request)

    def _add_event(self, request: Request) -> Response:
        try:
            event = DeformationEvent.from_dict(request.json() or {})
        except SandboxError as exc:
            return error_response(400, str(exc))
        return json_response(self.events.add(event))

    def _clear_events(self, request: Request) -> Response:
        self.events.clear()
        return json_response([])

    def _get_faults(self, request: Request) -> Response:
        return json_response({g: f.to_dict() for g, f in self.server.faults.items()})

    def _set_faults(self, request: Request) -> Response:
        body = request.json() or {}
        try:
            faults = {group: Faults(**values) for group, values in body.items()}
        except TypeError as exc:
            return error_response(400, f"bad faults: {exc}; fields: {list(asdict(Faults()))}")
        self.server.faults = faults
        return self._get_faults(request)
