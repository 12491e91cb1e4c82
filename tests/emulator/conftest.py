import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import running
from reconciler.providers.local import LocalTenant
from reconciler.providers.snapshot import read_snapshot

ROOT = Path(__file__).resolve().parents[2]
CONTOSO = ROOT / "examples" / "contoso" / "tenant.json"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    url: str,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
    token: str | None = "test-token",
) -> Answer:
    """One HTTP request with urllib; any status comes back as an Answer."""
    sent = {"Content-Type": "application/json"} if body is not None else {}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return _answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return _answer(error.code, error.headers, error.read())


def _answer(status: int, headers: Any, raw: bytes) -> Answer:
    kind = headers.get("Content-Type", "")
    body: Any = raw.decode() if raw else None
    if raw and "json" in kind:
        body = json.loads(raw)
    return Answer(status, {k.lower(): v for k, v in headers.items()}, body)


class Client:
    def __init__(self, emulator) -> None:
        self.emulator = emulator

    def __call__(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Answer:
        url = path if path.startswith("http") else self.emulator.url + path
        url = url.replace(" ", "%20")
        return call(url, method, body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self("GET", path, **kwargs)

    def all_pages(self, path: str) -> tuple[list[dict], int]:
        """Every item behind `path`, following nextLinks, and the number of pages."""
        items, pages, url = [], 0, path
        while url:
            answer = self.get(url)
            assert answer.status == 200, answer.body
            items += answer.body["value"]
            pages += 1
            url = answer.body.get("@odata.nextLink")
        return items, pages


@pytest.fixture(scope="session")
def contoso_db(tmp_path_factory) -> Path:
    """The contoso tenant settled once into a local tenant file, copied by each test."""
    path = tmp_path_factory.mktemp("contoso") / "tenant.db"
    LocalTenant.create(path, read_snapshot(CONTOSO)).close()
    return path


@pytest.fixture
def emulator(contoso_db, tmp_path):
    shutil.copy(contoso_db, tmp_path / "tenant.db")
    with running(f"local:{tmp_path / 'tenant.db'}", license_reads=2) as running_emulator:
        yield running_emulator


@pytest.fixture
def graph(emulator) -> Client:
    return Client(emulator)


def by_name(graph: Client, name: str) -> dict:
    answer = graph.get(f"/groups?$filter=displayName eq '{name}'")
    assert answer.status == 200, answer.body
    (group,) = answer.body["value"]
    return group
