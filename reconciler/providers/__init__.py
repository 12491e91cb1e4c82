"""Where tenant state comes from and goes to: `snapshot` (a read-only Graph-shaped JSON file)."""
