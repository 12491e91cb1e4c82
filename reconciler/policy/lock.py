"""skus.lock.yaml: the service plans of every SKU the policy assigns, as the tenant listed them.

Like a dependency lock: `reconciler lock` (or `import`) writes it at the top of the policy
folder, it is committed with the policies, and the plan reports a service plan a SKU has that
the lock doesn't list (Microsoft added it since) as `new-service-plan`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from jsonschema import Draft202012Validator

from reconciler.errors import Location
from reconciler.jsonschemas import load_schema
from reconciler.model import ServicePlan, Sku
from reconciler.policy.errors import PolicyError, raise_all
from reconciler.policy.schema import schema_errors, where
from reconciler.policy.source import LOCK_NAME, Positions, read_file
from reconciler.private_files import write_atomic

if TYPE_CHECKING:
    from reconciler.policy.desired import DesiredState

FORMAT_VERSION = 1
_HEADER = """\
# The service plans of every SKU the policy assigns, as the tenant listed them when
# `reconciler lock` wrote this file. Commit it with the policies: `reconciler plan` reports a
# plan Microsoft adds to one of these SKUs (new-service-plan) until `reconciler lock` runs again.
"""


@dataclass(frozen=True, slots=True)
class LockedPlan:
    """A service plan the lock lists; the id in lower case."""

    servicePlanName: str
    servicePlanId: str


@dataclass(frozen=True, slots=True)
class LockedSku:
    """One SKU's entry: id in lower case, plans sorted by name, where the lock file lists it."""

    skuId: str
    skuPartNumber: str
    servicePlans: tuple[LockedPlan, ...]
    location: Location | None = field(default=None, compare=False)

    @property
    def plan_ids(self) -> frozenset[str]:
        return frozenset(plan.servicePlanId for plan in self.servicePlans)


@dataclass(frozen=True, slots=True)
class SkuLock:
    """The lock: an entry per SKU, sorted by skuPartNumber; `file` it was read from, if any."""

    skus: tuple[LockedSku, ...] = ()
    file: str | None = field(default=None, compare=False)

    def sku(self, sku_id: str) -> LockedSku | None:
        """The entry of the SKU `sku_id` (any case), or None when the lock lacks it."""
        wanted = sku_id.lower()
        return next((sku for sku in self.skus if sku.skuId == wanted), None)


@dataclass(frozen=True, slots=True)
class SkuChange:
    """How one SKU's entry differs from the previous lock."""

    skuPartNumber: str
    skuId: str
    kind: Literal["added", "removed", "changed"]
    added: tuple[LockedPlan, ...] = ()
    removed: tuple[LockedPlan, ...] = ()


@dataclass(frozen=True, slots=True)
class LockUpdate:
    """What `update_lock` did: `previous` is None when there was no readable lock before."""

    path: Path
    lock: SkuLock
    previous: SkuLock | None
    unreadable: PolicyError | None  # why the lock found could not be read; it was replaced
    changes: tuple[SkuChange, ...]
    written: bool  # False when the file already held exactly this lock


def lock_path(policy: Path) -> Path:
    """Where the lock of the policy at `policy` is: in the folder, or beside a single file."""
    return policy.parent / LOCK_NAME if policy.is_file() else policy / LOCK_NAME


def used_skus(desired: DesiredState) -> frozenset[str]:
    """The ids (lower case) of the SKUs the policy's groups assign; retired groups assign none."""
    return frozenset(
        license_.skuId.lower() for group in desired.groups for license_ in group.licenses
    )


def build_lock(skus: Sequence[Sku], used: Collection[str]) -> SkuLock:
    """The lock of those of `skus` (a tenant's subscribedSkus) whose ids are in `used`."""
    wanted = {sku_id.lower() for sku_id in used}
    entries = (
        LockedSku(
            sku.skuId.lower(),
            sku.skuPartNumber,
            _sorted(
                LockedPlan(p.servicePlanName, p.servicePlanId.lower()) for p in sku.servicePlans
            ),
        )
        for sku in skus
        if sku.skuId.lower() in wanted
    )
    return SkuLock(tuple(sorted(entries, key=lambda s: (s.skuPartNumber.casefold(), s.skuId))))


def lock_skus(lock: SkuLock) -> tuple[Sku, ...]:
    """The lock's SKUs as a tenant's subscribedSkus, to resolve names against it offline."""
    return tuple(
        Sku(
            sku.skuId,
            sku.skuPartNumber,
            tuple(ServicePlan(p.servicePlanId, p.servicePlanName) for p in sku.servicePlans),
        )
        for sku in lock.skus
    )


def _sorted(plans: Iterable[LockedPlan]) -> tuple[LockedPlan, ...]:
    return tuple(sorted(set(plans), key=lambda p: (p.servicePlanName.casefold(), p.servicePlanId)))


def compare(previous: SkuLock | None, lock: SkuLock) -> tuple[SkuChange, ...]:
    """The SKUs `lock` adds, changes or drops from `previous` (everything when there is none)."""
    before = {sku.skuId: sku for sku in previous.skus} if previous else {}
    changes = []
    for sku in lock.skus:
        old = before.pop(sku.skuId, None)
        if old is None:
            changes.append(SkuChange(sku.skuPartNumber, sku.skuId, "added", sku.servicePlans))
            continue
        added = tuple(p for p in sku.servicePlans if p.servicePlanId not in old.plan_ids)
        removed = tuple(p for p in old.servicePlans if p.servicePlanId not in sku.plan_ids)
        if added or removed:
            changes.append(SkuChange(sku.skuPartNumber, sku.skuId, "changed", added, removed))
    changes += (
        SkuChange(old.skuPartNumber, old.skuId, "removed", removed=old.servicePlans)
        for old in before.values()
    )
    return tuple(changes)


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key, as the policy files are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def lock_yaml(header: str, document: Mapping[str, Any]) -> str:
    """A lock file's text: `header`, then `document` in key order, the same on any machine."""
    # width: a plan name with spaces must stay on its line
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)
    return header + body


def lock_text(lock: SkuLock) -> str:
    """The lock as YAML: sorted, one line per plan, the same for the same lock on any machine."""
    skus: dict[str, Any] = {}
    for sku in lock.skus:
        # the skuId is what counts; a part number listed twice (never seen) falls back to the id
        key = sku.skuId if sku.skuPartNumber in skus else sku.skuPartNumber
        plans = [{plan.servicePlanName: plan.servicePlanId} for plan in sku.servicePlans]
        skus[key] = {"skuId": sku.skuId, "servicePlans": plans}
    return lock_yaml(_HEADER, {"formatVersion": FORMAT_VERSION, "skus": skus})


def read_lock(path: Path) -> SkuLock:
    """Read a lock file; PolicyError with every problem found, each at its file:line:column."""
    name = str(path)
    source = read_file(path, name, kind="lock file", keys="formatVersion, skus")
    document, positions = source.document, Positions(source.entries, {name: source.text})
    errors: list[PolicyError] = []
    for error in Draft202012Validator(load_schema("skus-lock.schema.json")).iter_errors(document):
        pointer = tuple(error.absolute_path)
        if error.validator in ("minProperties", "maxProperties"):
            message = (
                f"{where(pointer, document)}: expected one 'servicePlanName: servicePlanId' pair"
            )
            errors.append(PolicyError(message, positions.location(pointer)))
        else:
            errors.extend(schema_errors(error, document, positions))
    # jsonschema reports each missing required key apart and the translation names them all:
    # raise_all reports each problem once
    raise_all(errors)
    entries: list[LockedSku] = []
    for key, entry in document["skus"].items():
        here = positions.key_location(("skus", key))
        first = next((sku for sku in entries if sku.skuId == entry["skuId"].lower()), None)
        if first is not None:
            message = f"skus.{key}: SKU {entry['skuId']} is already listed at {first.location}"
            errors.append(PolicyError(message, here))
            continue
        plans = (
            LockedPlan(plan_name, plan_id.lower())
            for pair in entry["servicePlans"]
            for plan_name, plan_id in pair.items()
        )
        entries.append(LockedSku(entry["skuId"].lower(), key, _sorted(plans), here))
    raise_all(errors)
    return SkuLock(tuple(entries), name)


def load_lock(policy: Path) -> SkuLock | None:
    """The lock of the policy at `policy`, or None when it has none yet."""
    path = lock_path(policy)
    if not path.exists():
        return None
    try:
        return read_lock(path)
    except PolicyError as error:
        # the lock is derived data: saying how to write it anew beats hand-repairing it
        hint = "; run `reconciler lock` to write it anew"
        raise with_hint(error, hint, code="invalid-lock") from error


def with_hint(error: PolicyError, hint: str, *, code: str | None = None) -> PolicyError:
    """`error` and all it carries, each message followed by `hint` (and under `code`, if given)."""
    amended = [
        PolicyError(each.message + hint, each.location, code=code or each.code)
        for each in error.errors
    ]
    amended[0].errors = tuple(amended)
    return amended[0]


def write_lock_file(path: Path, text: str) -> None:
    """Write a lock file whole, keeping its mode (it is policy, not tenant data); "\n" on every
    system, so it doesn't change with who ran the command."""
    write_atomic(path, text, private=False)


def update_lock(policy: Path, desired: DesiredState, skus: Sequence[Sku]) -> LockUpdate:
    """Write the lock of `desired`, resolved against `skus`, beside the policy at `policy`.

    A lock that can't be read (a merge conflict, say) is replaced: the lock is derived data.
    """
    path = lock_path(policy)
    previous, unreadable, old_text = None, None, None
    if path.exists():
        try:
            previous = read_lock(path)
            old_text = path.read_text(encoding="utf-8-sig")
        except PolicyError as error:
            unreadable = error
    lock = build_lock(skus, used_skus(desired))
    text = lock_text(lock)
    written = text != old_text
    if written:
        write_lock_file(path, text)
    return LockUpdate(path, lock, previous, unreadable, compare(previous, lock), written)
