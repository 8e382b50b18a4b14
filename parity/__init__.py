"""Parity with live PyTorch: case tables (data), a runner, and a report.

``pytest`` collects every table through ``parity/test_parity.py``;
``python -m parity`` runs them and prints the report.
"""
