"""Policy format v1: YAML files -> checked LoadedPolicy -> DesiredState resolved against a tenant.

policy = load_policy("policies/")              # offline: YAML, schema, rule syntax
state = resolve(policy, tenant.subscribedSkus, tenant=tenant)  # names against the tenant
check_offline(policy)                          # or SKU and plan names against skus.lock.yaml
policy_lints(policy)                           # lints of its membership rules, with locations
state.lock, state.groupLock     # skus.lock.yaml and groups.lock.yaml beside the policy, or None

Every problem is a PolicyError (an InputError) at the YAML node's file:line:column; a stage
reports all its problems at once in `error.errors`, the first one being the error itself, and
each has a stable `code` (reconciler/codes.py).
"""

from reconciler.policy.desired import (
    DesiredGroup,
    DesiredLicense,
    DesiredState,
    RetiredGroup,
    Settings,
)
from reconciler.policy.errors import PolicyError, PolicyRuleError
from reconciler.policy.lints import PolicyLint, policy_lints
from reconciler.policy.lock import (
    LockedPlan,
    LockedSku,
    LockUpdate,
    SkuChange,
    SkuLock,
    build_lock,
    lock_path,
    read_lock,
    update_lock,
)
from reconciler.policy.resolve import LoadedPolicy, check_offline, load_policy, resolve
from reconciler.policy.source import Position, Positions

__all__ = [
    "DesiredGroup",
    "DesiredLicense",
    "DesiredState",
    "LoadedPolicy",
    "LockUpdate",
    "LockedPlan",
    "LockedSku",
    "PolicyError",
    "PolicyLint",
    "PolicyRuleError",
    "Position",
    "Positions",
    "RetiredGroup",
    "Settings",
    "SkuChange",
    "SkuLock",
    "build_lock",
    "check_offline",
    "load_policy",
    "lock_path",
    "policy_lints",
    "read_lock",
    "resolve",
    "update_lock",
]
