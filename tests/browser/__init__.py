"""Helpers for tests that drive a real Jupyter server with a headless Chromium (see jupyter.py)."""
