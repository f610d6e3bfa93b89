"""The .pyi stubs match the native module, and a typed program passes `mypy --strict`."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

import trailseal
from trailseal import _trailseal

PKG = Path(trailseal.__file__).parent
STUB = PKG / "_trailseal.pyi"
HERE = Path(__file__).parent


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"))


def is_typing_helper(node: ast.stmt) -> bool:
    """Private names that exist only for type checkers (aliases, TypedDicts)."""
    if isinstance(node, ast.ClassDef):
        # A TypedDict, or one extending another private one.
        return node.name.startswith("_") and any(
            isinstance(b, ast.Name) and (b.id == "TypedDict" or b.id.startswith("_"))
            for b in node.bases
        )
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) and t.id.startswith("_") for t in node.targets)
    return False


def stub_names() -> Dict[str, ast.stmt]:
    names: Dict[str, ast.stmt] = {}
    for node in stub_tree().body:
        if is_typing_helper(node):
            continue
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
    return names


def runtime_names() -> Set[str]:
    return {
        n for n in dir(_trailseal) if not (n.startswith("__") and n.endswith("__"))
    } | {"__version__"}


def test_package_ships_stubs_and_marker() -> None:
    assert (PKG / "py.typed").exists()
    assert STUB.exists()


def test_stub_names_equal_module_names() -> None:
    assert set(stub_names()) == runtime_names()


def test_package_reexports_every_public_name() -> None:
    public = {n for n in runtime_names() if not n.startswith("_")} | {"__version__"}
    assert set(trailseal.__all__) == public == set(_trailseal.__all__) - {"_error_codes"} | {"__version__"}
    for name in public:
        assert getattr(trailseal, name) is getattr(_trailseal, name)


def params_of_stub(fn: ast.FunctionDef) -> List[str]:
    a = fn.args
    names = [p.arg for p in a.posonlyargs + a.args]
    n_defaults = len(a.defaults)
    out = [n + ("=" if i >= len(names) - n_defaults else "") for i, n in enumerate(names)]
    if a.vararg:
        out.append("*" + a.vararg.arg)
    out += [p.arg + "=" for p in a.kwonlyargs]
    return out


def params_of_runtime(obj: object) -> List[str]:
    out = []
    for p in inspect.signature(obj).parameters.values():  # type: ignore[arg-type]
        if p.kind is p.VAR_POSITIONAL:
            out.append("*" + p.name)
        else:
            out.append(p.name + ("" if p.default is p.empty else "="))
    return out


def is_property(fn: ast.FunctionDef) -> bool:
    """A getter (`@property`) or a setter (`@name.setter`) of a property."""
    return any(
        (isinstance(d, ast.Name) and d.id == "property")
        or (isinstance(d, ast.Attribute) and d.attr == "setter")
        for d in fn.decorator_list
    )


def test_functions_have_the_stub_signatures() -> None:
    for name, node in stub_names().items():
        if isinstance(node, ast.FunctionDef):
            assert params_of_stub(node) == params_of_runtime(getattr(_trailseal, name)), name


def test_classes_have_the_stub_members() -> None:
    for name, node in stub_names().items():
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(_trailseal, name)
        assert inspect.isclass(cls), name
        if issubclass(cls, BaseException):
            continue
        members = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
        public = {n for n in dir(cls) if not n.startswith("_")}
        assert {n for n in members if not n.startswith("_")} == public, name
        for mname, fn in members.items():
            static = inspect.getattr_static(cls, mname)
            if is_property(fn):
                assert type(static).__name__ == "getset_descriptor", (name, mname)
                continue
            if mname == "__new__":
                target: object = cls
                want = params_of_stub(fn)[1:]
            else:
                target = getattr(cls, mname)
                want = params_of_stub(fn)
            if mname in ("__eq__", "__len__", "__bool__", "__exit__"):
                assert mname in cls.__dict__ or hasattr(cls, mname), (name, mname)
                continue
            is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
            assert is_static == isinstance(static, staticmethod), (name, mname)
            assert want == params_of_runtime(target), (name, mname)


def test_exception_stubs_match_the_hierarchy() -> None:
    for name, node in stub_names().items():
        if isinstance(node, ast.ClassDef) and name.endswith("Error"):
            cls = getattr(_trailseal, name)
            bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
            assert [b.__name__ for b in cls.__bases__] == bases, name


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_typed_usage_passes_mypy_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(HERE / "typed_usage.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_stubtest_finds_no_difference(tmp_path: Path) -> None:
    """mypy's own stub checker: every stub signature against the runtime objects."""
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n")
    done = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "trailseal", "--mypy-config-file", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPY_CACHE_DIR": str(tmp_path / "mypy-cache")},
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_typed_usage_runs() -> None:
    subprocess.run([sys.executable, str(HERE / "typed_usage.py")], check=True, timeout=120)
