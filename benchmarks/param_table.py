"""Print parameter counts and GMACs of every supported student, with and without LG-Conv,
beside the paper's Table 1 / Table 8 figures. The README/docs table is copied from this output.

    python benchmarks/param_table.py [--sizes 352x1216,480x640]
"""

from __future__ import annotations

import argparse

from disdepth_cli.info import parse_hw
from disdepth_core.models import backbone_info, build_model, list_students
from disdepth_core.models.complexity import measure_complexity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="352x1216,480x640", help="comma-separated HxW inputs for the GMAC columns")
    args = parser.parse_args()
    sizes = [parse_hw(s) for s in args.sizes.split(",")]
    size_cols = " | ".join(f"GMACs {h}x{w} (no LG / LG)" for h, w in sizes)
    print(f"| backbone | params no LG (M) | params with LG (M) | LG-Conv adds (M) | paper (M) | {size_cols} |")
    print("|" + "---|" * (5 + len(sizes)))
    for name in list_students():
        info = backbone_info(name)
        plain, lg = build_model(name, lg_conv=False), build_model(name, lg_conv=True)
        stats = [(measure_complexity(plain, h, w), measure_complexity(lg, h, w)) for h, w in sizes]
        paper = "–"
        if info.paper_params_m is not None:
            paper = f"{info.paper_params_m:.1f}" if info.paper_params_no_lg_m is None else f"{info.paper_params_no_lg_m:.1f} / {info.paper_params_m:.1f}"
        gmacs = " | ".join(f"{a.gmacs:.1f} / {b.gmacs:.1f}" for a, b in stats)
        print(f"| {name} | {stats[0][0].params_m:.2f} | {stats[0][1].params_m:.2f} | {stats[0][1].lgconv_params_m:.2f} | {paper} | {gmacs} |")


if __name__ == "__main__":
    main()
