"""What a Graph read tells its `Progress`: the users, groups and members read, as pages come."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.emulator import running
from reconciler.providers.graph import CHECKING, READING, GraphTenant
from tests.providers.graph_support import CONTOSO, FAST, SECRET


@dataclass
class Recorded:
    """A Progress that keeps what it hears; Graph reports from several threads at once."""

    stages: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    reports: int = 0
    ended: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stage(self, name: str, total: int | None = None) -> None:
        self.stages.append(name)

    def advance(self, n: int = 1, *, what: str | None = None) -> None:
        with self.lock:
            self.counts[what or ""] = self.counts.get(what or "", 0) + n
            self.reports += 1

    def done(self) -> None:
        self.ended += 1


def graph(url: str, progress: Recorded, state_dir: Path | None = None) -> GraphTenant:
    return GraphTenant(
        url, token=lambda: SECRET, retry=FAST, state_dir=state_dir, progress=progress
    )


def test_a_full_read_counts_every_user_group_and_member_it_reads():
    progress = Recorded()
    with running(str(CONTOSO)) as emulator, graph(emulator.url, progress) as provider:
        tenant = provider.read()
    assert progress.stages == [READING, CHECKING] and progress.ended == 1
    assert progress.counts == {
        "users": len(tenant.users),
        "groups": len(tenant.groups),
        "members": sum(len(group.members) for group in tenant.groups),
    }


def test_a_delta_read_counts_the_objects_its_rounds_bring(tmp_path):
    progress = Recorded()
    with running(str(CONTOSO)) as emulator, graph(emulator.url, progress, tmp_path) as provider:
        tenant = provider.read()
        first = dict(progress.counts)
        progress.counts.clear()
        provider.read()  # nothing changed since: the rounds bring nothing
    assert first == {"users": len(tenant.users), "groups": len(tenant.groups)}
    assert progress.counts == {"changed users": 0, "changed groups": 0}
