"""What the Graph provider's tests share: the demo tenant, a secret to look for, fast retries."""

from pathlib import Path

from reconciler.providers.graph_http import RetryPolicy

CONTOSO = Path(__file__).resolve().parents[2] / "examples" / "contoso" / "tenant.json"
SECRET = "token-that-must-never-show"  # a token no output may contain
FAST = RetryPolicy(attempts=10, base=0.01, cap=0.05)  # retries without slow tests
