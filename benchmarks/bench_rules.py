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

from reconciler.rules.ast import And, Quantifier, Rule
from reconciler.rules.compiler import compile_rule
from reconciler.rules.membership import compute_memberships
from reconciler.rules.parser import parse
from reconciler.rules.properties import spec_of

User = dict[str, Any]

RULE_LENGTH = 3072
COMPARISONS_TARGET = 2_000_000
MEMBERSHIP_SECONDS_TARGET = 5.0
MEMBERSHIP_LOAD_RATIO_TARGET = 3.0


# --- helpers ----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@dataclass(frozen=True)
class Timing:
    """Median CPU and wall seconds of one run.

    Targets are judged on CPU time: on a shared machine wall time also counts the time other
    processes held the core, while on an idle one the two are the same.
    """

    cpu: float
    wall: float

    def __str__(self) -> str:
        return f"{self.cpu:7.2f} s CPU ({self.wall:.2f} s wall)"


def measure(run: Callable[[], object], repeat: int) -> Timing:
    """Median CPU and wall time of `repeat` calls of `run`."""
    cpu, wall = [], []
    for _ in range(repeat):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        run()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return Timing(statistics.median(cpu), statistics.median(wall))


def measure_interleaved(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, Timing]:
    """Median timings of several runs taken in turn, so drift in the machine hits all alike."""
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            run()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start_wall)
    return {
        name: Timing(statistics.median(cpu[name]), statistics.median(wall[name])) for name in runs
    }


def per_call_seconds(run: Callable[[], object], repeat: int = 7) -> float:
    """Median CPU time of one call of a fast `run`, timed in batches of at least 0.2 s."""
    timer = timeit.Timer(run, timer=time.process_time)
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
    wall_time = statistics.median(timeit.repeat(lambda: parse(rule), repeat=7, number=20)) / 20
    comparisons = rule.count(" -")  # operators, logical ones included: a rough size
    print(f"rule: {len(rule):,} chars, ~{comparisons} operators, object type {tree.object_type}")
    print(f"parse():       {parse_time * 1e3:8.3f} ms CPU (median; {wall_time * 1e3:.3f} ms wall)")
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
    Shape("-in (5)", 'user.usageLocation -in ["US", "GB", "DE", "FR", "IN"]', True),
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
    """Comparisons a rule of SHAPES really evaluates over `users`, honouring short-circuits."""
    tree = parse(text)
    body = tree.body
    if isinstance(body, And):  # operand k runs only when the ones before it held
        tests = [compile_rule(Rule(tree.object_type, operand, text)) for operand in body.operands]
        return sum(_and_prefix(tests, user) for user in users)
    if isinstance(body, Quantifier):  # -any stops at the first item that passes
        key = spec_of(body.collection).graph_path[0]
        item_test = compile_rule(text)
        return sum(_any_prefix(item_test, key, user.get(key) or ()) for user in users)
    return len(users)


def _and_prefix(tests: Sequence[Callable[[User], bool]], user: User) -> int:
    for position, test in enumerate(tests, 1):
        if not test(user):
            return position
    return len(tests)


def _any_prefix(item_test: Callable[[User], bool], key: str, items: Sequence[object]) -> int:
    for position, item in enumerate(items, 1):
        if item_test({key: [item]}):
            return position
    return len(items)


def bench_evaluate(users: Sequence[User], repeat: int) -> None:
    section(f"2. compiled rules over {len(users):,} users (one core, CPU time)")
    print(
        f"{'shape':20} {'matches':>8} {'M eval/s':>9} {'.matches':>9} {'no-op':>7} "
        f"{'x no-op':>8} {'cmp/eval':>9} {'M cmp/s':>8}"
    )
    simple_comparisons = 0
    simple_seconds = simple_bare_seconds = 0.0
    for shape in SHAPES:
        compiled = compile_rule(shape.text, now=synthetic.NOW)
        timings = measure_interleaved(
            {
                "call": lambda c=compiled: count_matches(c, users),
                # The bare function, without CompiledRule.__call__'s extra frame.
                "bare": lambda c=compiled: count_matches(c.matches, users),
                # Baseline: the cheapest callable in the same loop, timed alongside.
                "noop": lambda: count_matches(_noop, users),
            },
            repeat,
        )
        seconds = timings["call"].cpu
        comparisons = comparisons_evaluated(shape.text, users)
        if shape.simple:
            simple_comparisons += comparisons
            simple_seconds += seconds
            simple_bare_seconds += timings["bare"].cpu
        rates = [len(users) / timings[name].cpu / 1e6 for name in ("call", "bare", "noop")]
        print(
            f"{shape.name:20} {count_matches(compiled, users):8,} {rates[0]:9.2f} "
            f"{rates[1]:9.2f} {rates[2]:7.2f} {seconds / timings['noop'].cpu:8.1f} "
            f"{comparisons / len(users):9.2f} {comparisons / seconds / 1e6:8.2f}"
        )
    hot, hot_noop = cache_hot_rates(SHAPES[0], users, repeat)
    print(
        f"{SHAPES[0].name + ', cache-hot':20} {'':8} {hot / 1e6:9.2f} {'':9} "
        f"{hot_noop / 1e6:7.2f} {hot_noop / hot:8.1f}"
    )
    rate = simple_comparisons / simple_seconds
    print(
        "(M eval/s: rule evaluations per second through CompiledRule.__call__; .matches: "
        "the bare compiled function; no-op: M calls/s of a function that returns True; "
        "cmp/eval: comparisons really evaluated, short-circuits honoured; cache-hot: "
        f"the first {HOT_USERS:,} users {HOT_ROUNDS} times over, so they stay in the CPU cache)"
    )
    print(
        f"simple comparisons per second (-eq, -startsWith, -in, -and of 3, through "
        f"CompiledRule): {rate / 1e6:.2f} M/s; target >= {COMPARISONS_TARGET / 1e6:.0f} M/s: "
        f"{verdict(rate >= COMPARISONS_TARGET)}; "
        f"through the bare function: {simple_comparisons / simple_bare_seconds / 1e6:.2f} M/s"
    )


HOT_USERS = 5_000
HOT_ROUNDS = 20


def cache_hot_rates(shape: Shape, users: Sequence[User], repeat: int) -> tuple[float, float]:
    """Evaluations/s of `shape` and of the no-op over a few users reused, free of cache misses."""
    hot = list(users[:HOT_USERS]) * HOT_ROUNDS
    compiled = compile_rule(shape.text, now=synthetic.NOW)
    timings = measure_interleaved(
        {"call": lambda: count_matches(compiled, hot), "noop": lambda: count_matches(_noop, hot)},
        repeat,
    )
    return len(hot) / timings["call"].cpu, len(hot) / timings["noop"].cpu


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


def _status_kib(field: str) -> int | None:
    """A `VmRSS`/`VmHWM` line of /proc/self/status in KiB; None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Start a new peak-RSS (VmHWM) window; Linux only, so a later peak is this step's own."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def traced_peak(run: Callable[[], object]) -> int:
    """Peak bytes Python allocated during `run` above what was live before (slow: ~4x)."""
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - base


def bench_memberships(
    rules: dict[str, Rule], users: Sequence[User], load: Timing, repeat: int, traced: bool
) -> dict[str, list[int]]:
    section(f"3. compute_memberships: {len(rules)} rules over {len(users):,} users")
    results: dict[str, list[int]] = {}

    def run() -> None:
        results.clear()  # so two runs' results are never alive at once
        results.update(compute_memberships(rules, users, now=synthetic.NOW))

    gc.collect()
    rss_before = _status_kib("VmRSS")
    windowed = reset_peak_rss()
    timing = measure(run, repeat)
    rss_peak = _status_kib("VmHWM")
    ratio = timing.cpu / load.cpu
    print(f"json.load of the users (floor): {load}")
    print(f"compute_memberships:            {timing}  = {ratio:.2f}x the load")
    fast_enough = timing.cpu <= MEMBERSHIP_SECONDS_TARGET
    near_floor = ratio <= MEMBERSHIP_LOAD_RATIO_TARGET
    print(
        f"target <= {MEMBERSHIP_SECONDS_TARGET:.0f} s: {verdict(fast_enough)};  "
        f"target <= {MEMBERSHIP_LOAD_RATIO_TARGET:.0f}x load: {verdict(near_floor)}"
    )
    sizes = sorted(len(members) for members in results.values())
    print(
        f"members per rule: min {sizes[0]:,}, median {sizes[len(sizes) // 2]:,}, "
        f"max {sizes[-1]:,}; {sum(1 for size in sizes if size == 0)} rules select nobody"
    )
    if windowed and rss_before is not None and rss_peak is not None:
        extra = (rss_peak - rss_before) / 1024
        print(f"peak memory: RSS rose {extra:.0f} MiB above the {rss_before / 1024:.0f} MiB before")
    print(f"process max RSS so far: {max_rss_mib():.0f} MiB")
    if traced:
        peak = traced_peak(run)
        print(f"tracemalloc: peak Python allocations {peak / 2**20:.0f} MiB above the start")
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
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace Python allocations of one more membership run (about 4x slower)",
    )
    return parser.parse_args(argv)


def prepare_users(count: int, seed: int, repeat: int) -> tuple[list[User], Timing]:
    """Generate, save and reload the tenant: the users as parsed JSON and the load's timing."""
    start = time.process_time()
    generated = synthetic.make_users(count, seed)
    generate_seconds = time.process_time() - start
    with tempfile.TemporaryDirectory() as directory:
        path = write_users(generated, directory)
        del generated  # keep one copy of the tenant in memory, not two
        size = path.stat().st_size
        users: list[User] = []

        def load() -> None:
            nonlocal users
            users = []  # free the previous copy before loading the next
            users = load_users(path)

        timing = measure(load, repeat)
    print(
        f"tenant: {count:,} users ({size / 2**20:.0f} MiB of JSON), "
        f"made in {generate_seconds:.1f} s CPU"
    )
    return users, timing


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    print(
        f"reconciler rule benchmark — Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )
    users, load = prepare_users(args.users, args.seed, args.repeat)
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
    memberships = bench_memberships(rules, users, load, args.repeat, args.tracemalloc)
    return 0 if check_correctness(rules, users, memberships) else 1


if __name__ == "__main__":
    sys.exit(main())
