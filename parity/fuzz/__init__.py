"""A differential fuzzer: every public loss against live torch, on inputs
drawn by Hypothesis.

- ``draw``: reusable strategies (shapes, float values with specials and
  ties, class indices, option sets, the dtype).
- ``families/<family>.py``: one :class:`~parity.fuzz.example.FuzzLoss` per
  loss, as data: its options, its input layout, its Module.
- ``runner``: the one runner. It calls torch (float64 on the rounded inputs,
  and torch in the dtype under test) and ours in one mode (eager, Module,
  ``mx.compile``, ``mx.compile(shapeless=True)``, value checks off), then
  compares outputs, gradients, NaN/inf positions, output dtype and whether
  both raise.
- ``known_open``: mismatches found and not fixed yet, each pointing at its
  entry in the team's findings file; ``parity/known_differences.py``: the
  deliberate differences from torch (``docs/differences.md``).

Profiles (``profile``): the default is bounded and reproducible (a fixed
seed); ``MLX_LOSSES_FUZZ=deep`` runs more examples from any seed. See
``docs/fuzzing.md``.
"""
