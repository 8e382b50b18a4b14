"""Every public docstring's example runs (doctest)."""

import doctest
import importlib
import pkgutil

import pytest

import mlx_losses


def _modules():
    names = ["mlx_losses"]
    for info in pkgutil.walk_packages(mlx_losses.__path__, "mlx_losses."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs={}):
        if test.examples:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"
