"""``python -m shift_core.boundary --out data/boundary [--bound N]``: run every boundary check and write the stage.

Prints one line per check (protocol, ops, verdict, paper's verdict, counterexample length, states). Exit status
1 only when a positive control failed or a search was incomplete (the model, not the paper, is then in
question); a verdict that disagrees with the paper is a result, reported in the table and in ``boundary.json``.
"""

from __future__ import annotations

import argparse
import sys

from shift_core.boundary.run import run, table_rows, write_results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m shift_core.boundary", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/boundary", help="output directory (default: data/boundary)")
    ap.add_argument("--bound", type=int, default=None, help="iterations per run (default 4; at least 2)")
    args = ap.parse_args(argv)
    if args.bound is not None and args.bound < 2:
        print("shift_core.boundary: error: --bound must be at least 2 (slot reuse needs two iterations)",
              file=sys.stderr)
        return 2
    results = run(args.bound, progress=lambda cid: print(f"searching {cid} ...", file=sys.stderr, flush=True))
    print(f"{'protocol':<28} {'ops':<42} {'verdict':<11} {'paper':<11} {'cex':>4} {'states':>8}  passed")
    for row in table_rows(results):
        print(f"{row['protocol']:<28} {row['ops']:<42} {row['verdict']:<11} {row['paper']:<11} "
              f"{row['counterexample_length']:>4} {row['states']:>8}  {'yes' if row['passed'] else 'NO'}")
    paths = write_results(results, args.out)
    print("wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    model_ok = all(r.complete and all(c.passed for c in r.controls) for r in results)
    return 0 if model_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
