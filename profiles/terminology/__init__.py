"""Terminology over the bundled CodeSystems and ValueSets (stdlib only)."""
