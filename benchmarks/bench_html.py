"""Benchmark of the HTML plan report: writing it, and a browser opening and filtering it.

Run `python benchmarks/bench_html.py [--rows 20000 100000]`. The demo plan is made once, and
its license removals multiplied to each number of rows (four generated groups). For each size
it prints the time to write the page (`plan_html`) beside the time to write the same plan as
JSON (`plan_json`), the page's size, and, when Chromium is on PATH, the time headless Chromium
takes to open the page and run its script, unfiltered and with a fragment filtering one group,
beside the time it takes to open an empty page: all in the same run, since the machines are
shared and absolute figures drift.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

try:
    import reconciler  # noqa: F401  (only checks it is importable)
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_rules import measure, section

from reconciler.plan.document import plan_document
from reconciler.plan.planning import plan_now
from reconciler.policy import load_policy
from reconciler.providers.snapshot import read_snapshot
from reconciler.render.plan_html import plan_html
from reconciler.render.plan_json import plan_json
from reconciler.render.plan_markdown import Context

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
GROUPS = tuple(f"LIC-Generated-{n}" for n in range(4))
CONTEXT = Context(tenant="contoso.onmicrosoft.com", policy="policies")


def document_with(base: dict, rows: int) -> dict:
    """The demo plan with `rows` license removals, spread over four groups."""
    document = copy.deepcopy(base)
    loss = document["impact"]["licenseRemovals"][0]
    document["impact"]["licenseRemovals"] = [
        {**loss, "userId": f"u{i}", "userPrincipalName": f"user{i:06}@contoso.com", "group": g}
        for i in range(rows)
        for g in (GROUPS[i % len(GROUPS)],)
    ]
    return document


def browser_seconds(browser: str, page: Path, fragment: str, where: Path) -> float:
    """Wall seconds for headless Chromium to open `page` and dump the DOM its script left."""
    start = time.perf_counter()
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={where / 'profile'}",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        check=True,
        timeout=600,
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tenant = read_snapshot(ROOT / "examples" / "contoso" / "tenant.json")
    base = plan_document(plan_now(load_policy(ROOT / "policies"), tenant))
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    with tempfile.TemporaryDirectory() as directory:
        where = Path(directory)
        empty = where / "empty.html"
        empty.write_text("<!DOCTYPE html><title>empty</title>", encoding="utf-8")
        for rows in args.rows:
            document = document_with(base, rows)
            section(f"{rows:,} license removals")
            page_text = plan_html(document, CONTEXT)
            print(f"  page size                {len(page_text.encode()) / 2**20:8.1f} MiB")
            writing = measure(partial(plan_html, document, CONTEXT), args.repeat)
            print(f"  write the page           {writing}")
            print(
                f"  baseline: plan_json      {measure(partial(plan_json, document), args.repeat)}"
            )
            if browser is None:
                print("  (no Chromium on PATH: the browser's figures are left out)")
                continue
            page = where / "plan.html"
            page.write_text(page_text, encoding="utf-8")
            runs = {
                "open, every row": (page, ""),
                "open, one group": (page, f"#group={GROUPS[1]}"),
                "baseline: an empty page": (empty, ""),
            }
            for name, (path, fragment) in runs.items():
                seconds = sorted(
                    browser_seconds(browser, path, fragment, where) for _ in range(args.repeat)
                )
                print(f"  {name:<24} {seconds[len(seconds) // 2]:6.2f} s wall (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
