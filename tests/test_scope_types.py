"""The tenant scope is carried by the types (issue 18): no service function takes a bare
``tenant_id`` (it takes the caller's ``Scope``), and no module but ``scoping.py`` compares a
row's ``tenant_id`` by hand (lookups go through ``scoping.owned`` / ``scoping.get_owned``)."""

import ast
from collections.abc import Iterator
from pathlib import Path

import opendialer

SOURCE = Path(opendialer.__file__).parent
# Not services: the tables, the migrations, the engine's internals (it acts with
# Scope.system), the dialects (translation; their own rule in dialects/test_translation_only),
# the CLIs (they read --tenant from the command line), and the demo's data (demo.py, moved out
# of engine/simulation.py: it makes tenants, or fills the one named by the CLI or a test).
NOT_SERVICES = (
    *("models/", "migrations/", "engine/", "dialects/"),
    *("cli.py", "contacts/imports/cli.py", "demo.py"),
)
# Reviewed exceptions: where a tenant id is the value itself, not the caller.
ALLOWED = {
    ("scoping.py", "system"),  # builds the scope from the tenant id
    ("scoping.py", "of_credential"),  # the same, for a vendor credential's principal
    ("security.py", "link_key"),  # derives the tenant's link key from its id
    ("dnc/service.py", "blocked_clause"),  # a SQL bind parameter of the engine's claim query
    # The reserved agent's own tenant, as the reservation's RETURNING gave it, for its history row.
    ("agents/sessions.py", "_after_reserving"),
    # The engine's listener hooks (engine/campaign_runner.py's protocol fixes the signature):
    # they only wake the agent's open console streams and read no rows; the stream reads the
    # state afterwards through the login's scope.
    ("console/push.py", "agent_wrap_up"),
    ("console/push.py", "preview_offered"),
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SOURCE.rglob("*.py")):
        name = path.relative_to(SOURCE).as_posix()
        yield name, ast.parse(path.read_text(encoding="utf-8"))


def _bare_tenant_ids(name: str, tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        if any(a.arg == "tenant_id" for a in arguments) and (name, node.name) not in ALLOWED:
            yield f"{name}:{node.lineno} {node.name}"


def _hand_written_tenant_checks(name: str, tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(isinstance(o, ast.NotEq) for o in node.ops):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "tenant_id" for s in sides):
                yield f"{name}:{node.lineno}"


def test_no_service_function_takes_a_bare_tenant_id() -> None:
    found = [
        hit
        for name, tree in _modules()
        if not name.startswith(NOT_SERVICES)
        for hit in _bare_tenant_ids(name, tree)
    ]
    assert found == []


def test_tenant_ownership_is_checked_only_in_scoping() -> None:
    found = [
        hit
        for name, tree in _modules()
        if name != "scoping.py"
        for hit in _hand_written_tenant_checks(name, tree)
    ]
    assert found == []


def test_the_checks_see_a_breach() -> None:
    breach = ast.parse(
        "def get_x(session, tenant_id: int, x_id: int):\n"
        "    if row.tenant_id != tenant_id:\n"
        "        raise NotFound()\n"
    )
    assert list(_bare_tenant_ids("x/service.py", breach)) == ["x/service.py:1 get_x"]
    assert list(_hand_written_tenant_checks("x/service.py", breach)) == ["x/service.py:2"]
