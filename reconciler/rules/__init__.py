"""Entra's dynamic membership rule language: parse, check, lint, compile and evaluate."""
