"""Which scene a seed gives: the layout choice (rooms, corridors, small rooms, streets) and its builder.

The one entry point of the generator's "what is in a scene" side: the renderer asks it for
``build_scene(kind, seed, layouts)`` and the CLI validates ``--layouts`` with
:func:`parse_layouts`. The builders themselves live in :mod:`.layouts` (rooms, streets) and
:mod:`.indoor_layouts` (corridors, small rooms), which know nothing of each other's choice.
"""

from __future__ import annotations

import numpy as np

from .indoor_layouts import build_corridor, build_small_room
from .layouts import build_indoor, build_outdoor
from .scenes import Scene

LAYOUTS = ("rooms", "corridors", "small_rooms")


def parse_layouts(layouts: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"rooms,corridors"`` (or a sequence) -> validated, de-duplicated tuple in the given order."""
    names = layouts.split(",") if isinstance(layouts, str) else list(layouts)
    out: list[str] = []
    for name in (str(n).strip() for n in names):
        if name not in LAYOUTS:
            raise ValueError(f"unknown indoor layout {name!r}; valid layouts: {', '.join(LAYOUTS)} (comma-separated)")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError(f"no indoor layout given; valid layouts: {', '.join(LAYOUTS)} (comma-separated)")
    return tuple(out)


def build_scene(kind: str, seed: int, layouts: str | tuple[str, ...] = "rooms") -> Scene:
    """Deterministic scene for ``seed``: all randomness flows from one SeedSequence.

    ``layouts`` (nyu only): one or more of :data:`LAYOUTS`; with several, the scene's layout
    is picked from a separate SeedSequence([seed, 1]) so the scene's own stream is untouched
    (a "rooms" scene is the same whatever else is in the mix).
    """
    names = parse_layouts(layouts)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    if kind == "nyu":
        pick = names[0] if len(names) == 1 else \
            names[int(np.random.default_rng(np.random.SeedSequence([int(seed), 1])).integers(len(names)))]
        if pick == "rooms":
            return build_indoor(rng)
        return build_corridor(rng) if pick == "corridors" else build_small_room(rng)
    if kind == "kitti":
        if names != ("rooms",):
            raise ValueError(f"layouts {','.join(names)!r} apply to kind='nyu' only; kitti scenes are streets")
        return build_outdoor(rng)
    raise ValueError(f"unknown synthetic dataset kind {kind!r}; expected 'nyu' or 'kitti'")
