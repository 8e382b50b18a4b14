"""Case tables, one module per loss family. Each module defines ``CASES``
(a list of :class:`parity.runner.Case`) and ``ERROR_CASES`` (a list of
:class:`parity.runner.ErrorCase`). New modules here are picked up by
themselves."""
