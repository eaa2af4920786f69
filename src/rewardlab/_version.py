"""The version of rewardlab, in a module of its own: every layer may read it without importing
the package's front door (``rewardlab/__init__.py`` imports the whole public API)."""

__version__ = "0.1.0"
