"""Dialects only translate: no dialect module builds a query, runs one on a session, sets a
model's attributes by name (the rules live in services), or acts as the system
(``Scope.system``: every dialect request acts as the principal its credential names, so audit
and role checks see who acted). An AST walk of src/opendialer/dialects, with no exception;
import-linter's contract in pyproject.toml keeps ``opendialer.models`` out of every dialect
module."""

import ast
from pathlib import Path

DIALECTS = Path(__file__).parents[2] / "src" / "opendialer" / "dialects"
QUERY_BUILDERS = {"select", "insert", "update", "delete", "text"}
SESSION_CALLS = {"execute", "scalar", "scalars", "get", "get_one", "add", "delete", "query"}


def _is_session(node: ast.expr) -> bool:
    """``session`` or ``<anything>.session``."""
    if isinstance(node, ast.Name):
        return node.id == "session"
    return isinstance(node, ast.Attribute) and node.attr == "session"


def breaches(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [f"imports {a.name}" for a in node.names if a.name in QUERY_BUILDERS]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "setattr":
                found.append("setattr")
            elif (
                isinstance(func, ast.Attribute)
                and func.attr in SESSION_CALLS
                and _is_session(func.value)
            ):
                found.append(f"session.{func.attr}")
        elif _is_scope_system(node):
            found.append("Scope.system")
    return found


def _is_scope_system(node: ast.AST) -> bool:
    """``Scope.system`` or ``<anything>.Scope.system``, called or passed on."""
    if not isinstance(node, ast.Attribute) or node.attr != "system":
        return False
    owner = node.value
    return (isinstance(owner, ast.Name) and owner.id == "Scope") or (
        isinstance(owner, ast.Attribute) and owner.attr == "Scope"
    )


def test_dialects_only_translate() -> None:
    found = {
        path.relative_to(DIALECTS).as_posix(): kinds
        for path in sorted(DIALECTS.rglob("*.py"))
        if (kinds := breaches(ast.parse(path.read_text(), str(path))))
    }
    assert found == {}


def test_the_walk_sees_each_kind_of_breach() -> None:
    source = (
        "from sqlalchemy import select\n"
        "def f(session, call, contact):\n"
        "    session.scalar(select(1))\n"
        "    call.session.get(object, 1)\n"
        "    setattr(contact, 'status', 'done')\n"
        "    {}.get('key')\n"
        "    act(session, Scope.system(1))\n"
        "    act(session, scoping.Scope.system)\n"
        "    act(session, call.system)\n"
    )
    assert sorted(breaches(ast.parse(source))) == [
        "Scope.system",
        "Scope.system",
        "imports select",
        "session.get",
        "session.scalar",
        "setattr",
    ]
