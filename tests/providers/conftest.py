import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from reconciler.providers.snapshot import read_snapshot

ROOT = Path(__file__).resolve().parents[2]
CONTOSO = ROOT / "examples" / "contoso"


@pytest.fixture(scope="session")
def contoso_generator():
    """examples/contoso/generate.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("contoso_generate", CONTOSO / "generate.py")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def contoso():
    """The committed demo tenant."""
    return read_snapshot(CONTOSO / "tenant.json")


@pytest.fixture
def tenant_file(tmp_path: Path) -> Path:
    """A copy of the demo tenant's snapshot, for an emulator to serve."""
    shutil.copy(CONTOSO / "tenant.json", tmp_path / "tenant.json")
    return tmp_path / "tenant.json"
