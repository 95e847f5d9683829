"""Command line: ``python -m pytest_concurrency demo | bench``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_concurrency",
        description="pytest-concurrency: demonstrations and benchmarks.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="show each capability catching a real concurrency bug")
    bench = commands.add_parser("bench", help="measure speed as medians and ratios")
    bench.add_argument(
        "--repeats", type=int, default=5, help="samples per measurement (default 5, at least 1)"
    )
    bench.add_argument("--only", default=None, help="run only sections whose name contains this")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from pytest_concurrency import demo

        return demo.run()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    from pytest_concurrency import bench as bench_module

    return bench_module.run(repeats=args.repeats, only=args.only)


if __name__ == "__main__":
    sys.exit(main())
