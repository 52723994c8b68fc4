"""The package version, read by ``pyproject.toml`` (single source)."""

__version__ = "0.3.0"
