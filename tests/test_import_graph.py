"""The import graph of src/ has no circle between modules (import-linter's contracts in
pyproject.toml check the packages; this checks every module against every other)."""

import grimp

from tests.graph_cycles import circles


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("opendialer")
    imports = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert circles(imports) == []


def test_the_check_sees_a_circle() -> None:
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(imports) == [["a", "b", "c"]]
