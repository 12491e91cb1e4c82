"""The example pipelines (examples/ci/, action.yml, .pre-commit-hooks.yaml), read and run."""
