"""Membership of many rules over many objects, through indexes instead of object-by-object tests.

Sets of objects are Python integers used as bitsets (bit i = objects[i]), so -and, -or and -not
are single integer operations. Equality and -in are dictionary lookups, a prefix is a range of
the sorted values, and any other comparison on a single-valued property is decided once per
distinct value of that property, not once per object: a tenant has far fewer departments than
users. Comparisons the index can't answer (collections, derived properties) are evaluated
object by object, only over the candidates the rest of an -and leaves, and each distinct
comparison is computed once for all the rules that share it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import compress

from reconciler.rules.ast import (
    And,
    Comparison,
    DirectReports,
    Expr,
    ListValue,
    MemberOf,
    Not,
    NullValue,
    Or,
    PropertyRef,
    Rule,
    StringValue,
)
from reconciler.rules.attributes import normalize_string, reference_id, reference_ids
from reconciler.rules.compiler import (
    GraphObject,
    attribute_getter,
    compile_node,
    compile_value_test,
)
from reconciler.rules.errors import RuleEvaluationError
from reconciler.rules.properties import Derivation, PropertySpec, PropertyType, spec_of

_INDEXED_TYPES = (PropertyType.STRING, PropertyType.BOOL, PropertyType.DATETIME)
# A property with more distinct values than this share of the objects keeps index lists only:
# a bitset per value would cost memory quadratic in the tenant's size.
_BITSET_PER_VALUE_RATIO = 64
# Evaluate an unindexed operand object by object only when the candidates are this sparse.
_SPARSE_RATIO = 4
# Operators the index answers by lookup or range, whatever the number of distinct values.
_LOOKUP_OPERATORS = frozenset({"eq", "ne", "in", "notIn", "startsWith", "notStartsWith"})
# How many objects are sampled to tell whether a property's values are mostly distinct.
_SAMPLE = 1024


def compute_memberships(
    rules: Mapping[Hashable, Rule],
    objects: Sequence[GraphObject],
    now: datetime | None = None,
    index: MembershipIndex | None = None,
) -> dict[Hashable, list[int]]:
    """For each rule, the ascending positions in `objects` of the objects it selects; `index`,
    if given, is a MembershipIndex over the same objects, to reuse what it has worked out.

    RuleEvaluationError (a regular expression out of time) names the rule's key (a group id in
    a plan): a plan refuses to guess who a rule selects rather than count the value as no match.
    """
    if index is None:
        index = MembershipIndex(objects, now)
    # one list of positions shared by every result, so each member costs a reference, not an int
    positions = list(range(len(objects)))
    result: dict[Hashable, list[int]] = {}
    for key, rule in rules.items():
        try:
            result[key] = to_indices(index.members(rule), positions)
        except RuleEvaluationError as error:
            raise error.within(f"the rule of {key}") from None
    return result


class MembershipIndex:
    """Answers `members(rule)` over a fixed list of objects, reusing work across rules."""

    def __init__(self, objects: Sequence[GraphObject], now: datetime | None = None) -> None:
        self.objects = objects
        self.now = now or datetime.now(UTC)
        self.everyone = (1 << len(objects)) - 1
        self._groups: dict[str, dict[tuple[type, Hashable], list[int]] | None] = {}
        self._lowered: dict[str, dict[str | None, list[int]]] = {}
        self._sorted: dict[str, list[str]] = {}
        self._distinct: dict[str, bool] = {}
        self._value_bits: dict[tuple[str, tuple[type, Hashable]], int] = {}
        self._reference_index: dict[str, dict[str, list[int]]] = {}
        self._cache: dict[Expr | DirectReports | MemberOf, int] = {}

    def members(self, rule: Rule) -> int:
        """The bitset of objects `rule` selects."""
        return self.evaluate(rule.body)

    # --- structure ----------------------------------------------------------------------------

    def evaluate(self, node: Expr | DirectReports | MemberOf) -> int:
        if isinstance(node, Or):
            result = 0
            for operand in node.operands:
                result |= self.evaluate(operand)
            return result
        if isinstance(node, And):
            return self._and(node)
        if isinstance(node, Not):
            return self.everyone ^ self.evaluate(node.operand)
        return self._cached(node)

    def _and(self, node: And) -> int:
        indexed = [operand for operand in node.operands if self._is_indexed(operand)]
        others = [operand for operand in node.operands if not self._is_indexed(operand)]
        result = self.everyone
        for operand in indexed:
            result &= self.evaluate(operand)
            if not result:
                return 0
        for operand in others:
            if result.bit_count() * _SPARSE_RATIO < len(self.objects):
                result &= self._scan(operand, to_indices(result))
            else:
                result &= self.evaluate(operand)
            if not result:
                return 0
        return result

    def _is_indexed(self, node: Expr | DirectReports | MemberOf) -> bool:
        if isinstance(node, DirectReports | MemberOf):
            return True
        if isinstance(node, Comparison):
            return self._indexable_spec(node) is not None
        if isinstance(node, Not):
            return self._is_indexed(node.operand)
        if isinstance(node, And | Or):
            return all(self._is_indexed(operand) for operand in node.operands)
        return False

    def _cached(self, node: Expr | DirectReports | MemberOf) -> int:
        # nodes compare without their spans, so one condition in many rules is one entry
        if node not in self._cache:
            self._cache[node] = self._leaf(node)
        return self._cache[node]

    def _leaf(self, node: Expr | DirectReports | MemberOf) -> int:
        if isinstance(node, DirectReports):
            managers = self._references("manager")
            return self._bits(managers.get(node.manager_id.lower(), ()))
        if isinstance(node, MemberOf):
            groups = self._references("memberOf")
            found: set[int] = set()
            for group_id in node.group_ids:
                found.update(groups.get(group_id.lower(), ()))
            return self._bits(found)
        if isinstance(node, Comparison):
            spec = self._indexable_spec(node)
            if spec is not None:
                return self._comparison(node, spec)
        return self._scan(node, range(len(self.objects)))

    def _scan(self, node: Expr | DirectReports | MemberOf, positions) -> int:
        """Test `node` object by object over `positions`."""
        _, test = compile_node(node, self.now)
        objects = self.objects
        return self._bits([i for i in positions if test(objects[i])])

    # --- indexed comparisons ------------------------------------------------------------------

    def _indexable_spec(self, node: Comparison) -> PropertySpec | None:
        if not isinstance(node.target, PropertyRef):
            return None
        spec = spec_of(node.target)
        if spec.type not in _INDEXED_TYPES or spec.derivation is not Derivation.NONE:
            return None
        # When nearly every value is distinct (mail, UPN), testing each distinct value costs as
        # much as testing each object, so only lookups use the index there.
        lookup = node.operator in _LOOKUP_OPERATORS and spec.type is PropertyType.STRING
        if not lookup and self._mostly_distinct(spec):
            return None
        return spec if self._grouped(spec) is not None else None

    def _mostly_distinct(self, spec: PropertySpec) -> bool:
        if spec.name not in self._distinct:
            getter = attribute_getter(spec)
            sample = [getter(obj) for obj in self.objects[:_SAMPLE]]
            try:
                distinct = len(set(sample))
            except TypeError:  # unhashable values: no index either way
                distinct = len(sample)
            self._distinct[spec.name] = distinct * 2 > len(sample) >= _SAMPLE // 2
        return self._distinct[spec.name]

    def _comparison(self, node: Comparison, spec: PropertySpec) -> int:
        if spec.type is PropertyType.STRING and node.operator in ("eq", "ne", "in", "notIn"):
            found = self._equal_to(spec, node.value)
            return self.everyone ^ found if node.operator in ("ne", "notIn") else found
        if spec.type is PropertyType.STRING and node.operator in ("startsWith", "notStartsWith"):
            assert isinstance(node.value, StringValue)
            found = self._starting_with(spec, node.value.value.lower())
            return self.everyone ^ found if node.operator == "notStartsWith" else found
        # Any other operator is decided once per distinct value of the property.
        test = compile_value_test(node, self.now)
        groups = self._grouped(spec)
        assert groups is not None
        matching = [key for key in groups if test(key[1])]
        return self._union(spec, groups, matching)

    def _equal_to(self, spec: PropertySpec, value: object) -> int:
        """Objects whose value equals `value` (or any item of a list), ignoring case."""
        if isinstance(value, ListValue):
            wanted = {normalize_string(item.value) for item in value.items}
        elif isinstance(value, StringValue):
            wanted = {normalize_string(value.value)}
        else:
            assert isinstance(value, NullValue)
            wanted = {None}
        lowered = self._lowered_groups(spec)
        positions: list[int] = []
        for key in wanted:
            positions.extend(lowered.get(key, ()))
        return self._bits(positions)

    def _starting_with(self, spec: PropertySpec, prefix: str) -> int:
        """Objects whose lower-cased value starts with `prefix`: a range of the sorted values."""
        if spec.name not in self._sorted:
            self._sorted[spec.name] = sorted(k for k in self._lowered_groups(spec) if k is not None)
        keys = self._sorted[spec.name]
        lowered = self._lowered_groups(spec)
        positions: list[int] = []
        for key in keys[bisect_left(keys, prefix) :]:
            if not key.startswith(prefix):
                break
            positions.extend(lowered[key])
        return self._bits(positions)

    def _grouped(self, spec: PropertySpec) -> dict[tuple[type, Hashable], list[int]] | None:
        """Positions of the objects by raw value of `spec`; None if a value isn't hashable.

        Keys carry the value's type: True, 1 and 1.0 are equal in Python but not to a rule.
        """
        if spec.name not in self._groups:
            getter = attribute_getter(spec)
            groups: dict[tuple[type, Hashable], list[int]] | None = {}
            for position, obj in enumerate(self.objects):
                value = getter(obj)
                try:
                    groups.setdefault((value.__class__, value), []).append(position)
                except TypeError:
                    groups = None
                    break
            self._groups[spec.name] = groups
        return self._groups[spec.name]

    def _lowered_groups(self, spec: PropertySpec) -> dict[str | None, list[int]]:
        if spec.name not in self._lowered:
            lowered: dict[str | None, list[int]] = {}
            groups = self._grouped(spec)
            assert groups is not None
            for (_, value), positions in groups.items():
                lowered.setdefault(normalize_string(value), []).extend(positions)
            self._lowered[spec.name] = lowered
        return self._lowered[spec.name]

    def _union(self, spec: PropertySpec, groups: dict, matching: list) -> int:
        if len(groups) * _BITSET_PER_VALUE_RATIO > len(self.objects):
            positions: list[int] = []
            for value in matching:
                positions.extend(groups[value])
            return self._bits(positions)
        result = 0
        for value in matching:
            key = (spec.name, value)
            if key not in self._value_bits:
                self._value_bits[key] = self._bits(groups[value])
            result |= self._value_bits[key]
        return result

    def _references(self, attribute: str) -> dict[str, list[int]]:
        """Positions of the objects by the ids in their manager or memberOf references."""
        if attribute not in self._reference_index:
            # read exactly as the compiled rule reads them: one reference, or a list of them
            read = reference_ids if attribute == "memberOf" else _single_reference
            index: dict[str, list[int]] = {}
            for position, obj in enumerate(self.objects):
                for object_id in read(obj.get(attribute)):
                    index.setdefault(object_id, []).append(position)
            self._reference_index[attribute] = index
        return self._reference_index[attribute]

    def _bits(self, positions) -> int:
        return to_bits(positions, len(self.objects))


def _single_reference(value: object) -> set[str]:
    object_id = reference_id(value)
    return {object_id} if object_id else set()


def to_bits(positions, size: int) -> int:
    """The bitset with the bits at `positions` set."""
    buffer = bytearray((size + 7) // 8)
    for position in positions:
        buffer[position >> 3] |= 1 << (position & 7)
    return int.from_bytes(buffer, "little")


_NONZERO_RUNS = re.compile(rb"[^\x00]+")
# the set bits of each byte value, as positions within the byte
_BYTE_BITS = tuple(tuple(bit for bit in range(8) if value >> bit & 1) for value in range(256))
_BITS_AS_BYTES = bytes.maketrans(b"01", b"\x00\x01")
# below one set bit in this many, visiting the non-zero bytes beats reading every bit
_SPARSE_BITS = 64


def to_indices(bits: int, positions: Sequence[int] | None = None) -> list[int]:
    """The ascending positions of the set bits of `bits`, taken from `positions` if given."""
    if bits.bit_count() * _SPARSE_BITS < bits.bit_length():
        data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
        found: list[int] = []
        for run in _NONZERO_RUNS.finditer(data):
            for offset, value in enumerate(run.group(), run.start()):
                found.extend([(offset << 3) + bit for bit in _BYTE_BITS[value]])
        return found if positions is None else [positions[i] for i in found]
    if positions is None:
        positions = range(bits.bit_length())
    # bin() is lowest bit last; reversed, its digits select the positions in order
    selectors = bin(bits)[:1:-1].encode().translate(_BITS_AS_BYTES)
    return list(compress(positions, selectors))
