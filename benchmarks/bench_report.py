"""Benchmark of `reconciler report`: time and memory of the licenses report on a large tenant.

Run `python benchmarks/bench_report.py [--users N]`. A tenant of N generated users (default
100,000; see bench_plan.py) is written to a temporary snapshot and read once; the licenses
report is then written to the null device in each format. Every time is printed beside the time
to read the same snapshot, and the report's peak memory (tracemalloc, above the tenant already
read) beside the tenant's own and beside what holding the report's rows in a list would take,
all measured in the same run, because the machines are shared and absolute figures drift. The
script exits 0 unless the report holds memory that grows with the tenant, or misses rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

try:
    import reconciler  # noqa: F401  (only checks it is importable)
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_plan import generate
from bench_rules import Timing, max_rss_mib, measure, section, traced_peak

from reconciler.model import Tenant
from reconciler.providers.snapshot import read_snapshot
from reconciler.render.report import FORMATS, TEXT_LOOKAHEAD, write_report
from reconciler.report import (
    GroupRow,
    LicenseRow,
    SeatRow,
    group_rows,
    license_rows,
    seat_rows,
)

# The report's own peak may hold one user's rows, text's first rows and the writers' buffers:
# a few MiB at most, however large the tenant. More means rows are being kept.
STREAMED_PEAK_LIMIT = 8 * 2**20


def write_to_null(rows_of: Callable[[], object], row_type: type, output_format: str) -> int:
    with open(os.devnull, "w", encoding="utf-8", newline="") as out:
        return write_report(rows_of(), row_type, output_format, out)


def licenses_to_null(tenant: Tenant, output_format: str) -> int:
    return write_to_null(lambda: license_rows(tenant), LicenseRow, output_format)


def ratio(timing: Timing, baseline: Timing) -> str:
    return f"{timing.cpu / baseline.cpu:5.2f}x the read" if baseline.cpu else ""


def bench(snapshot: Path, repeat: int) -> bool:
    size = snapshot.stat().st_size
    section(f"reading the tenant: {size / 2**20:.0f} MiB snapshot, median of {repeat}")
    read = measure(lambda: read_snapshot(snapshot), repeat)
    tenant: Tenant = read_snapshot(snapshot)
    states = sum(len(user.licenseAssignmentStates) for user in tenant.users)
    print(f"read_snapshot           {read}   (the baseline)")
    print(
        f"tenant: {len(tenant.users):,} users, {len(tenant.groups)} groups, "
        f"{len(tenant.subscribedSkus)} products, {states:,} license assignments"
    )

    section(f"report licenses to the null device, median of {repeat}")
    problems = []
    for output_format in FORMATS:
        counts: list[int] = []

        def run(output_format: str = output_format, counts: list[int] = counts) -> None:
            counts.append(licenses_to_null(tenant, output_format))

        timing = measure(run, repeat)
        rate = counts[-1] / timing.cpu if timing.cpu else 0
        print(f"{output_format:5} {counts[-1]:>10,} rows  {timing}  {ratio(timing, read)}")
        print(f"{'':5} {rate:>10,.0f} rows per CPU second")
        if counts[-1] != states:
            problems.append(f"{output_format}: {counts[-1]:,} rows for {states:,} assignments")
    for name, rows_of, row_type in (
        ("seats", lambda: seat_rows(tenant), SeatRow),
        ("groups", lambda: group_rows(tenant, frozenset(), all_groups=True), GroupRow),
    ):
        timing = measure(lambda r=rows_of, t=row_type: write_to_null(r, t, "csv"), repeat)
        print(f"report {name} (csv)      {timing}  {ratio(timing, read)}")

    section("peak Python allocations (tracemalloc), each run alone")
    tenant_peak = traced_peak(lambda: read_snapshot(snapshot))
    print(f"read_snapshot                      {tenant_peak / 2**20:9.1f} MiB  (the tenant)")
    listed = traced_peak(lambda: list(license_rows(tenant)))
    print(f"licenses rows held in a list       {listed / 2**20:9.1f} MiB  (what streaming avoids)")
    for output_format in FORMATS:
        peak = traced_peak(lambda f=output_format: licenses_to_null(tenant, f))
        note = f"  (text looks {TEXT_LOOKAHEAD:,} rows ahead)" if output_format == "text" else ""
        print(f"report licenses --format {output_format:5}   {peak / 2**10:9.0f} KiB{note}")
        if peak > STREAMED_PEAK_LIMIT:
            problems.append(
                f"{output_format} peaked at {peak / 2**20:.1f} MiB, over "
                f"{STREAMED_PEAK_LIMIT / 2**20:.0f} MiB: rows are being kept"
            )
    print(f"process peak RSS (getrusage): {max_rss_mib():.0f} MiB")
    for problem in problems:
        print(f"UNEXPECTED: {problem}")
    return not problems


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="users of the generated tenant")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated tenant")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per timing (median)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    print(
        f"reconciler report benchmark — Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as directory:
        # generated in a child process, so the generator's memory isn't counted as the report's
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            made = pool.submit(generate, directory, args.users, args.seed).result()
        print(f"generated {args.users:,} users in {made['seconds']:.1f} s CPU (child process)")
        ok = bench(Path(directory) / "tenant.json", args.repeat)
    print(f"\nbenchmark ran {time.perf_counter() - started:.0f} s wall")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
