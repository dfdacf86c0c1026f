"""Products for the sandbox HyP3's successful jobs, rendered from the simulated Earth.

Rendering runs in background (daemon) threads as soon as a job is accepted, so that a job is
ready when its time is up; stopping the sandbox abandons what is still queued, and a restarted
sandbox queues it again when the job is next read. Products go to `<data_dir>/products/<job_id>/<name>.zip`; the truth of
each stack (LOS velocity, per-date displacement) goes to `<data_dir>/truth/<stack_key>/` and
grows as products with new dates are rendered.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from insarhub_sandbox.earth import events as earth_events
from insarhub_sandbox.hyp3.jobs import Job, Product
from insarhub_sandbox.hyp3.multiburst import MULTI_BURST, check_contiguous
from insarhub_sandbox.products.multiburst import SEPARATOR, group_record
from insarhub_sandbox.records import SceneRecord

log = logging.getLogger(__name__)

Lookup = Callable[[str], "SceneRecord | None"]
Done = Callable[[str, "Product | None", "str | None"], None]  # job_id, product, error


def render_product(earth: Any, job: Job, reference: SceneRecord, secondary: SceneRecord,
                   out_dir: Path) -> Product:
    """The one call into the simulated Earth: render the job's product zip into `out_dir`."""
    from insarhub_sandbox.earth import model as earth_module

    name = earth_module.product_name(job.job_type, reference, secondary, job.job_parameters, job.job_id)
    zip_path = Path(earth.render_product(job.job_type, reference, secondary, job.job_parameters,
                                         out_dir, name))
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    return Product(
        name=name,
        files=[{"filename": zip_path.name, "size": zip_path.stat().st_size}],
        browse_images=[p for p in pngs if "_thumb" not in p],
        thumbnail_images=[p for p in pngs if "_thumb" in p],
    )


class ProductRenderer:
    """Renders the products of successful jobs, one background worker per `workers`."""

    def __init__(self, data_dir: Path, lookup: Lookup, on_done: Done, seed: int = 0,
                 grid_size: int = 60, workers: int = 1,
                 center: tuple[float, float] | None = None, events: list[Any] | None = None,
                 sites: list[tuple[float, float]] | None = None) -> None:
        self.products_dir = data_dir / "products"
        self.truth_dir = data_dir / "truth"
        self.lookup = lookup
        self.on_done = on_done
        self.seed = seed
        self.grid_size = grid_size
        self.center = center
        self.sites = [(float(s[0]), float(s[1])) for s in sites] if sites else None  # canvases
        self.events = events if events is not None else []  # shared with the sandbox's EventBook
        self._queue: queue.Queue[Job] = queue.Queue()
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self._earth: Any = None
        self._truth_scenes: dict[str, dict[str, SceneRecord]] = {}
        self._truth_locks: dict[str, threading.Lock] = {}
        for i in range(max(1, workers)):
            threading.Thread(target=self._work, name=f"hyp3-render-{i}", daemon=True).start()

    def job_dir(self, job_id: str) -> Path:
        return self.products_dir / job_id

    def request(self, job: Job) -> None:
        """Queue the job's product unless it is queued already (idempotent)."""
        with self._lock:
            if job.job_id in self._queued:
                return
            self._queued.add(job.job_id)
        self._queue.put(Job.from_json(job.to_json()))  # a snapshot: the store's job moves on

    def busy(self) -> int:
        """Products queued or being rendered."""
        with self._lock:
            return len(self._queued)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                self._run(job)
            finally:
                with self._lock:
                    self._queued.discard(job.job_id)

    def _simulated_earth(self) -> Any:
        with self._lock:
            if self._earth is None:
                from insarhub_sandbox.earth.model import DEFAULT_SITES, SimulatedEarth

                self._earth = SimulatedEarth(seed=self.seed, grid_size=self.grid_size,
                                             center=self.center, events=self.events,
                                             sites=self.sites or DEFAULT_SITES)
            return self._earth

    def _run(self, job: Job) -> None:
        try:
            reference, secondary = self._sides(job)
            out_dir = self.job_dir(job.job_id)
            out_dir.mkdir(parents=True, exist_ok=True)
            product = render_product(self._simulated_earth(), job, reference, secondary, out_dir)
        except Exception as exc:  # any failure becomes a FAILED job with this reason
            log.warning("sandbox HyP3 job %s could not be rendered: %s", job.job_id, exc)
            self.on_done(job.job_id, None, f"{type(exc).__name__}: {exc}")
            return
        try:
            self._add_truth(reference, secondary, str(job.job_parameters.get("looks", "20x4")))
        except Exception:  # the product stands; the truth is the sandbox's own bookkeeping
            log.exception("sandbox truth for stack %s could not be written", reference.stack_key)
        self.on_done(job.job_id, product, None)

    def _sides(self, job: Job) -> tuple[SceneRecord, SceneRecord]:
        """The pair's two scenes; a multi-burst side is its bursts as one group record."""
        if job.job_type == MULTI_BURST:
            sides = []
            for key in ("reference", "secondary"):
                records = [self.lookup(g) for g in job.job_parameters[key]]
                found = [r for r in records if r is not None]
                if len(found) != len(records):
                    raise LookupError("the sandbox catalog has no metadata for some of these bursts")
                check_contiguous(found)  # burst2safe's refusal, at processing time
                sides.append(group_record(found))
            return sides[0], sides[1]
        reference, secondary = (self.lookup(g) for g in job.granules)
        if reference is None or secondary is None:
            raise LookupError("the sandbox catalog has no metadata for these granules, so "
                              "the simulated Earth cannot process them")
        return reference, secondary

    def _lookup_scene(self, name: str) -> SceneRecord | None:
        """A catalog scene, or a multi-burst group (its burst names joined by commas)."""
        if SEPARATOR not in name:
            return self.lookup(name)
        records = [self.lookup(n) for n in name.split(SEPARATOR)]
        found = [r for r in records if r is not None]
        return group_record(found) if found and len(found) == len(records) else None

    def _add_truth(self, reference: SceneRecord, secondary: SceneRecord, looks: str) -> None:
        """Write the stack's truth again when a product brings new acquisition dates."""
        key = reference.stack_key
        with self._lock:
            lock = self._truth_locks.setdefault(key, threading.Lock())
        with lock:
            scenes = self._truth_scenes.setdefault(key, self._known_truth_scenes(key))
            new = {s.name: s for s in (reference, secondary) if s.name not in scenes}
            if not new:
                return
            first = min(scenes.values(), key=lambda s: s.start) if scenes else None
            scenes.update(new)
            out_dir = self.truth_dir / key
            out_dir.mkdir(parents=True, exist_ok=True)
            ordered = sorted(scenes.values(), key=lambda s: s.start)
            if first is not None and first is ordered[0]:
                # displacements are relative to the first date: when it stays, only new dates
                # need writing (with the first one as their reference)
                write = [first, *sorted(new.values(), key=lambda s: s.start)]
            else:
                write = ordered
            self._simulated_earth().write_truth(key, write, out_dir, looks=looks)
            earth_events.write_truth(self.events, out_dir)
            (out_dir / "scenes.txt").write_text("".join(f"{s.name}\n" for s in ordered))

    def _known_truth_scenes(self, key: str) -> dict[str, SceneRecord]:
        """Scenes whose truth an earlier run wrote (listed in `truth/<key>/scenes.txt`)."""
        listing = self.truth_dir / key / "scenes.txt"
        if not listing.is_file():
            return {}
        records = (self._lookup_scene(name) for name in listing.read_text().split())
        return {r.name: r for r in records if r is not None}
