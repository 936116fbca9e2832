"""Fixtures shared across the test tree."""

pytest_plugins = ("tests.xvfb",)
