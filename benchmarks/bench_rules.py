"""Benchmark of the rule engine: parsing, compiled evaluation, and membership of many rules.

Run `python benchmarks/bench_rules.py [--users N] [--rules N]`. Every figure is printed beside
a baseline measured in the same run (json parsing, a no-op loop), because the machines are
shared and absolute times drift. Targets are informational: the script exits 0 unless the
engine gives a wrong answer.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import timeit
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import reconciler  # noqa: F401  (only checks it is importable)
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import synthetic

from reconciler.rules.ast import Rule
from reconciler.rules.compiler import compile_rule
from reconciler.rules.membership import compute_memberships
from reconciler.rules.parser import parse

User = dict[str, Any]

RULE_LENGTH = 3072
COMPARISONS_TARGET = 2_000_000
MEMBERSHIP_SECONDS_TARGET = 5.0
MEMBERSHIP_LOAD_RATIO_TARGET = 3.0


# --- helpers ----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    """Median wall time of `repeat` calls of `run`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_call_seconds(run: Callable[[], object], repeat: int = 7) -> float:
    """Median time of one call of a fast `run`, timed in batches of about 0.2 s."""
    timer = timeit.Timer(run)
    number, _ = timer.autorange()
    return statistics.median(timer.repeat(repeat=repeat, number=number)) / number


def section(title: str) -> None:
    print(f"\n== {title}")


# --- 1. parsing a long rule -------------------------------------------------------------------


def graph_page_json(users: Sequence[User], length: int) -> str:
    """A Graph `/users?$select=...` page of exactly `length` characters, to parse as JSON."""
    fields = ("id", "userPrincipalName", "department", "jobTitle", "country", "accountEnabled")
    page: dict[str, Any] = {"value": [], "@odata.nextLink": ""}
    for user in users:
        page["value"].append({field: user[field] for field in fields})
        if len(json.dumps(page)) > length - 80:
            page["value"].pop()
            break
    # The skip token takes up the remainder, as Graph's opaque tokens are long anyway.
    room = length - len(json.dumps(page))
    page["@odata.nextLink"] = ("users?$skiptoken=" + "X" * length)[:room]
    text = json.dumps(page)
    assert len(text) == length, len(text)
    return text


def bench_parse(users: Sequence[User]) -> None:
    section(f"1. parse a {RULE_LENGTH:,}-character rule")
    rule = synthetic.long_rule(RULE_LENGTH)
    assert len(rule) == RULE_LENGTH, len(rule)
    tree = parse(rule)
    page = graph_page_json(users, RULE_LENGTH)
    parse_time = per_call_seconds(lambda: parse(rule))
    json_time = per_call_seconds(lambda: json.loads(page))
    comparisons = rule.count(" -")  # operators, logical ones included: a rough size
    print(f"rule: {len(rule):,} chars, ~{comparisons} operators, object type {tree.object_type}")
    print(f"parse():       {parse_time * 1e3:8.3f} ms  (median)")
    print(f"json.loads():  {json_time * 1e3:8.3f} ms  (same-size Graph page, baseline)")
    print(f"parse / json.loads = {parse_time / json_time:.1f}x")


# --- 2. evaluating compiled rules -------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A rule shape to time; `simple` shapes count toward the simple-comparison rate."""

    name: str
    text: str
    simple: bool


SHAPES = [
    Shape("-eq", 'user.department -eq "Sales"', True),
    Shape("-startsWith", 'user.jobTitle -startsWith "Senior"', True),
    Shape("-in (5)", 'user.country -in ["US", "GB", "DE", "FR", "IN"]', True),
    Shape("-match", 'user.jobTitle -match "^(Senior |Lead )?.*Engineer$"', False),
    Shape("-any proxyAddresses", 'user.proxyAddresses -any (_ -startsWith "SIP:")', False),
    Shape(
        "-and of 3",
        'user.accountEnabled -eq true -and user.userType -eq "Member" '
        '-and user.department -eq "Sales"',
        True,
    ),
]


def count_matches(predicate: Callable[[User], object], users: Sequence[User]) -> int:
    """The loop being timed: how a caller tests every user against one rule."""
    count = 0
    for user in users:
        if predicate(user):
            count += 1
    return count


def _noop(user: User) -> bool:
    return True


def comparisons_evaluated(text: str, users: Sequence[User]) -> int:
    """Comparisons the rule really evaluates over `users`, honouring short-circuits."""
    tree = parse(text)
    body = tree.body
    operands = getattr(body, "operands", None)
    if operands is not None:  # an -and: operand k runs only when the ones before it held
        tests = [compile_rule(Rule(tree.object_type, operand, text)) for operand in operands]
        total = 0
        for user in users:
            for test in tests:
                total += 1
                if not test(user):
                    break
        return total
    collection = getattr(body, "collection", None)
    if collection is not None:  # -any stops at the first item that passes
        item_test = compile_rule(text)
        total = 0
        for user in users:
            for address in user.get(collection.name) or ():
                total += 1
                if item_test({collection.name: [address]}):
                    break
        return total
    return len(users)


def bench_evaluate(users: Sequence[User], repeat: int) -> None:
    section(f"2. compiled rules over {len(users):,} users (one core)")
    noop = median_seconds(lambda: count_matches(_noop, users), repeat)
    print(f"baseline: no-op callable in the same loop: {len(users) / noop / 1e6:6.2f} M calls/s")
    print(
        f"{'shape':22} {'matches':>8} {'M eval/s':>9} {'.matches':>9} {'cmp/eval':>9} "
        f"{'M cmp/s':>8} {'x no-op':>8}"
    )
    simple_comparisons = 0
    simple_seconds = 0.0
    for shape in SHAPES:
        compiled = compile_rule(shape.text, now=synthetic.NOW)
        matched = count_matches(compiled, users)
        seconds = median_seconds(lambda c=compiled: count_matches(c, users), repeat)
        # The bare function, without CompiledRule.__call__'s extra frame.
        bare = median_seconds(lambda c=compiled: count_matches(c.matches, users), repeat)
        comparisons = comparisons_evaluated(shape.text, users)
        if shape.simple:
            simple_comparisons += comparisons
            simple_seconds += seconds
        print(
            f"{shape.name:22} {matched:8,} {len(users) / seconds / 1e6:9.2f} "
            f"{len(users) / bare / 1e6:9.2f} {comparisons / len(users):9.2f} "
            f"{comparisons / seconds / 1e6:8.2f} {seconds / noop:8.1f}"
        )
    rate = simple_comparisons / simple_seconds
    print(
        f"simple comparisons per second (-eq, -startsWith, -in, -and of 3; through "
        f"CompiledRule): {rate / 1e6:.2f} M/s — target >= {COMPARISONS_TARGET / 1e6:.0f} M/s: "
        f"{verdict(rate >= COMPARISONS_TARGET)}"
    )


# --- 3. membership of many rules --------------------------------------------------------------


def write_users(users: Sequence[User], directory: str) -> Path:
    path = Path(directory) / "users.json"
    with path.open("w", encoding="utf-8") as file:
        json.dump({"value": users}, file)
    return path


def load_users(path: Path) -> list[User]:
    with path.open(encoding="utf-8") as file:
        return json.load(file)["value"]


def parse_rules(texts: Sequence[str]) -> dict[str, Rule]:
    """Every generated rule, parsed; a rule that doesn't parse is a bug in the generator."""
    rules: dict[str, Rule] = {}
    for position, text in enumerate(texts):
        try:
            rules[f"group-{position:03d}"] = parse(text)
        except Exception as error:
            raise SystemExit(f"generated rule {position} doesn't parse: {error}\n{text}") from error
    return rules


def peak_memory(rules: dict[str, Rule], users: Sequence[User]) -> tuple[int, float]:
    """Peak bytes traced above the starting point during one computation, and its seconds."""
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    start = time.perf_counter()
    compute_memberships(rules, users, now=synthetic.NOW)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - base, seconds


def bench_memberships(
    rules: dict[str, Rule], users: Sequence[User], load_seconds: float, repeat: int
) -> dict[str, list[int]]:
    section(f"3. compute_memberships: {len(rules)} rules over {len(users):,} users")
    results: dict[str, list[int]] = {}

    def run() -> None:
        results.update(compute_memberships(rules, users, now=synthetic.NOW))

    seconds = median_seconds(run, repeat)
    ratio = seconds / load_seconds
    sizes = sorted(len(members) for members in results.values())
    print(f"json.load of the users (floor): {load_seconds:7.2f} s")
    print(f"compute_memberships (median):   {seconds:7.2f} s  = {ratio:.2f}x the load")
    fast_enough = seconds <= MEMBERSHIP_SECONDS_TARGET
    near_floor = ratio <= MEMBERSHIP_LOAD_RATIO_TARGET
    print(
        f"target <= {MEMBERSHIP_SECONDS_TARGET:.0f} s: {verdict(fast_enough)};  "
        f"target <= {MEMBERSHIP_LOAD_RATIO_TARGET:.0f}x load: {verdict(near_floor)}"
    )
    print(
        f"members per rule: min {sizes[0]:,}, median {sizes[len(sizes) // 2]:,}, "
        f"max {sizes[-1]:,}; {sum(1 for size in sizes if size == 0)} rules select nobody"
    )
    peak, traced_seconds = peak_memory(rules, users)
    print(
        f"peak memory of one computation: {peak / 2**20:.0f} MiB traced by tracemalloc "
        f"(that run took {traced_seconds:.1f} s); process max RSS so far "
        f"{max_rss_mib():.0f} MiB"
    )
    return results


def max_rss_mib() -> float:
    # Linux reports kilobytes, macOS bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


# --- correctness ------------------------------------------------------------------------------


def sample_keys(keys: Sequence[str]) -> list[str]:
    """Twenty rules covering every kind in the generator's fixed mix per hundred."""
    representatives = (0, 2, 4, 6, 11, 21, 36, 46, 50, 75)
    wanted = [hundred * 100 + slot for hundred in (0, 1) for slot in representatives]
    return [keys[i] for i in wanted if i < len(keys)]


def disagreements(
    rules: dict[str, Rule], users: Sequence[User], memberships: dict[str, list[int]]
) -> list[str]:
    """Rules whose membership differs from testing each user with the compiled rule."""
    wrong = []
    for key, rule in rules.items():
        compiled = compile_rule(rule, now=synthetic.NOW)
        expected = [i for i, user in enumerate(users) if compiled(user)]
        if memberships[key] != expected:
            extra = len(set(memberships[key]) - set(expected))
            missing = len(set(expected) - set(memberships[key]))
            wrong.append(f"{key}: {extra} extra, {missing} missing: {rule.text}")
    return wrong


def check_correctness(
    rules: dict[str, Rule], users: Sequence[User], memberships: dict[str, list[int]]
) -> bool:
    section("correctness")
    sample = {key: rules[key] for key in sample_keys(list(rules))}
    wrong = disagreements(sample, users, memberships)
    print(
        f"{len(sample)} rules x {len(users):,} users: compute_memberships and the compiled "
        f"callable {'agree' if not wrong else 'DISAGREE'}"
    )
    # Every rule, on a smaller tenant: a second, independent index over a prefix of the users.
    head = users[:5000]
    wrong_head = disagreements(rules, head, compute_memberships(rules, head, now=synthetic.NOW))
    print(f"{len(rules)} rules x {len(head):,} users: {'agree' if not wrong_head else 'DISAGREE'}")
    for line in (wrong + wrong_head)[:10]:
        print("  " + line)
    return not wrong and not wrong_head


# --- main -------------------------------------------------------------------------------------


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="synthetic users")
    parser.add_argument("--rules", type=int, default=500, help="rules for compute_memberships")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic tenant")
    return parser.parse_args(argv)


def prepare_users(count: int, seed: int) -> tuple[list[User], float, int]:
    """Generate, save and reload the tenant: the users as parsed JSON, median load time, size."""
    start = time.perf_counter()
    generated = synthetic.make_users(count, seed)
    generate_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as directory:
        path = write_users(generated, directory)
        del generated  # keep one copy of the tenant in memory, not two
        size = path.stat().st_size
        times, users = [], []
        for _ in range(3):
            users = []  # free the previous copy before loading the next
            start = time.perf_counter()
            users = load_users(path)
            times.append(time.perf_counter() - start)
    print(f"tenant: {count:,} users generated in {generate_seconds:.1f} s, {size / 2**20:.0f} MiB")
    return users, statistics.median(times), size


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    print(
        f"reconciler rule benchmark — Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )
    users, load_seconds, _ = prepare_users(args.users, args.seed)
    manager_ids = [user["id"] for user in users[: synthetic.MANAGER_COUNT]]
    rules = parse_rules(synthetic.make_rules(args.rules, manager_ids))
    print(f"rules: {len(rules)} generated, all parse")
    bench_parse(users)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: the evaluation loops allocate no cycles worth collecting
    try:
        bench_evaluate(users, max(args.repeat, 5))
    finally:
        if gc_was_enabled:
            gc.enable()
    memberships = bench_memberships(rules, users, load_seconds, args.repeat)
    return 0 if check_correctness(rules, users, memberships) else 1


if __name__ == "__main__":
    sys.exit(main())
