"""The real TensorRT Python API surface per version, read from introspection dumps.

``tests/export/tensorrt_api/intro-<version>.txt`` are copies of the facts in
``shared/facts/tensorrt-api/`` (read off the real ``tensorrt`` bindings 8.6.1, 10.3.0, 10.16.1.11
and 11.4.0.106). The test fakes expose exactly these names per simulated version, so code that
calls an 8.x-only method on the 10.x path (or anything TensorRT 11 removed) fails a test here
instead of on a robot. ``test_api_surface_copies_match_the_facts`` keeps the copies honest.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

API_DIR = Path(__file__).with_name("tensorrt_api")


def facts_dir() -> Path | None:
    """The original facts folder (``$DISDEPTH_SHARED`` or a ``shared/`` beside or above the checkout), if present."""
    import os

    repo = Path(__file__).resolve().parents[2]
    candidates = [Path(os.environ["DISDEPTH_SHARED"])] if os.environ.get("DISDEPTH_SHARED") else []
    candidates += [repo.parent / "shared", repo.parent.parent / "shared"]
    for root in candidates:
        if (root / "facts" / "tensorrt-api").is_dir():
            return root / "facts" / "tensorrt-api"
    return None

# Simulated (major, minor) -> the dump it uses. 8.5 (JetPack 5.1) has every name the project
# uses with the same meaning as 8.6 (named-tensor queries, memory pools and
# build_serialized_network all exist since 8.5), so it borrows the 8.6.1 surface.
SURFACE_FOR = {(8, 5): "8.6.1", (8, 6): "8.6.1", (10, 3): "10.3.0", (10, 16): "10.16.1.11", (11, 4): "11.4.0.106"}


@dataclass
class ApiSurface:
    version: str
    module_names: set[str] = field(default_factory=set)
    enum_members: dict[str, list[str]] = field(default_factory=dict)
    class_attrs: dict[str, set[str]] = field(default_factory=dict)
    missing_classes: set[str] = field(default_factory=set)

    def attrs(self, class_name: str) -> frozenset[str]:
        return frozenset(self.class_attrs.get(class_name, set()))


def surface_version(version: str) -> str:
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if numbers not in SURFACE_FOR:
        raise ValueError(f"no TensorRT API dump for simulated version {version}; known: {sorted(SURFACE_FOR)}")
    return SURFACE_FOR[numbers]


@lru_cache(maxsize=None)
def load_surface(dump_version: str) -> ApiSurface:
    """Parse one ``intro-<version>.txt`` into module names, enum members and class attributes."""
    surface = ApiSurface(dump_version)
    for line in (API_DIR / f"intro-{dump_version}.txt").read_text().splitlines():
        _, _, rest = line.partition(" ")
        if match := re.fullmatch(r"trt\.(\w+): (YES|MISSING)", rest):
            if match.group(2) == "YES":
                surface.module_names.add(match.group(1))
        elif match := re.fullmatch(r"(\w+) members: (\[.*\])", rest):
            surface.enum_members[match.group(1)] = list(ast.literal_eval(match.group(2)))
        elif match := re.fullmatch(r"(\w+): CLASS MISSING", rest):
            surface.missing_classes.add(match.group(1))
        elif match := re.fullmatch(r"Logger\.(\w+) .*", rest):
            surface.class_attrs.setdefault("Logger", set()).add(match.group(1))
        elif match := re.fullmatch(r"(\w+)\.(\w+): ?(.*)", rest):
            if match.group(3).strip() != "MISSING":
                surface.class_attrs.setdefault(match.group(1), set()).add(match.group(2))
    return surface
