"""No async code waits for the database on the event loop (issue 17: the server froze).

Two nets for one class: this static check finds direct database calls written in ``async def``
bodies; at run time the server's engine refuses connections taken on the loop's thread
(``forbid_on_loop``, tested in test_db.py), which also catches a sync helper called from async
code. Async code reaches the database through ``run_unit_of_work`` or ``engine.db.run``.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import opendialer

SOURCE = Path(opendialer.__file__).parent
DB_CALLS = {"unit_of_work", "sessions", "get_session", "_in_transaction", "_Transaction"}
SESSION_NAMES = {"session", "s", "db_session"}


def _own_nodes(function: ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The function's nodes, leaving out nested functions and lambdas (they run elsewhere)."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _database_call(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id in DB_CALLS:
        return func.id
    if isinstance(func, ast.Attribute):
        if func.attr in DB_CALLS:
            return func.attr
        if isinstance(func.value, ast.Name) and func.value.id in SESSION_NAMES:
            return f"{func.value.id}.{func.attr}"
    return None


def _offences(path: Path, root: Path = SOURCE) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for function in ast.walk(tree):
        if not isinstance(function, ast.AsyncFunctionDef):
            continue
        for node in _own_nodes(function):
            if (call := _database_call(node)) is not None:
                where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
                yield f"{where} {function.name}() calls {call}()"


def test_no_async_function_calls_the_database_directly() -> None:
    offences = [o for path in sorted(SOURCE.rglob("*.py")) for o in _offences(path)]
    assert offences == []


def test_the_check_finds_an_offence(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "async def tick(self):\n"
        "    with unit_of_work(self.sessions) as session:\n"
        "        session.execute(1)\n"
        "    await self.db.run(lambda session: session.execute(1))\n"
    )
    found = sorted(o.split(" ", 1)[1] for o in _offences(sample, tmp_path))
    assert found == ["tick() calls session.execute()", "tick() calls unit_of_work()"]
