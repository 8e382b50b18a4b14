"""The package version, in a room of its own (the build and ``from_torch`` read it)."""

__version__ = "0.1.0.dev0"
