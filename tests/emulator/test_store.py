"""The emulator's store notices writes to its tenant file by others, however quick."""

import os
import shutil

from reconciler.emulator import running
from reconciler.plan.changes import UpdateGroup
from reconciler.providers.local import LocalTenant
from tests.emulator.conftest import Client, by_name


def test_writes_by_another_in_one_mtime_tick_and_of_one_size_are_seen(contoso_db, tmp_path):
    path = tmp_path / "tenant.db"
    shutil.copy(contoso_db, path)
    with running(f"local:{path}") as emulator:
        graph = Client(emulator)
        group = by_name(graph, "Finance Analysts")
        url = f"/groups/{group['id']}"
        with LocalTenant(path) as other:
            name = group["displayName"]
            other.apply(UpdateGroup(group["id"], name, "description", group["description"], "aa"))
            written = os.stat(path)
            assert graph.get(url).body["description"] == "aa"
            other.apply(UpdateGroup(group["id"], name, "description", "aa", "bb"))
        # the second write as if within the same mtime tick, and of the same size
        os.utime(path, ns=(written.st_atime_ns, written.st_mtime_ns))
        after = os.stat(path)
        assert (after.st_mtime_ns, after.st_size) == (written.st_mtime_ns, written.st_size)
        assert graph.get(url).body["description"] == "bb"
