"""candor.pyi declares the whole public API of the generated module: every
public class, and every public method of each (a new export without its
stub fails here)."""

import ast
import inspect
from pathlib import Path

import candor

STUBS = Path(__file__).resolve().parents[2] / "candor.pyi"


def declared() -> dict:
    """Class name → names of the methods and nested classes the stubs declare."""
    tree = ast.parse(STUBS.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return out


def public_classes():
    for name, obj in vars(candor).items():
        if inspect.isclass(obj) and not name.startswith("_") and obj.__module__.startswith("candor"):
            if name.endswith("Protocol"):
                continue  # UniFFI's per-object protocols; the stubs declare the classes
            yield name, obj


def test_every_public_class_and_method_has_a_stub():
    stubs = declared()
    assert stubs, "no classes in candor.pyi"
    for name, cls in public_classes():
        assert name in stubs, f"candor.{name} has no stub"
        methods = {m for m, v in vars(cls).items()
                   if not m.startswith("_") and (callable(v) or isinstance(v, (classmethod, staticmethod)))}
        missing = {m for m in methods if m not in stubs[name] and not m.startswith("is_") or
                   (m.startswith("is_") and m.islower() and m not in stubs[name])}
        assert not missing, f"candor.{name}: no stub for {sorted(missing)}"


def test_the_stubs_declare_nothing_the_module_lacks():
    for name in declared():
        assert hasattr(candor, name), f"candor.pyi declares {name}, which the module lacks"
