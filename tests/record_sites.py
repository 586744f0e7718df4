"""Finds, by parsing devnode's source with ``ast``, every record kind and warning code the package uses.

Producers (the record stream's contract) are found in four shapes:

- ``<...>reporter.emit(KIND, code=CODE, ...)``: KIND and CODE as literals, ``WarningCode.X``, a conditional
  of literals, an f-string (a pattern, e.g. ``f"{what}.error"`` -> ``*.error``), or a parameter of the
  enclosing function (then every call of that function must pass a literal in its place);
- ``ParityWarning(CODE, ...)`` and ``<...>notices.note(CODE, ...)``/``<...>parity.note(CODE, ...)`` (warnings
  that reach ``emit`` through ``**warning.to_record()``), with f-strings expanded over an enclosing
  ``for NAME in ("a", "b")``;
- a dict literal holding both ``"kind"`` and ``"code"`` (a warning record built by hand, as ``check`` does);
- a ``(CODE, message)`` tuple in a statement about ``notices`` (NodeSession.notices(), production's notices).

Consumers (typo catchers): comparisons with ``record["kind"]``/``record.get("kind")`` or ``...get("code")``,
module-level ``*_CODES`` sets, and the keys of ``*FORMATTERS``/``*RENDERERS`` tables.

A value this cannot resolve is reported as ``unresolved`` with its file and line, so a new way of building
a record fails the test instead of slipping past it.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "devnode"
REGISTRY = PACKAGE / "codes.py"
REPORTER_NAMES = {"reporter"}  # ``reporter.emit``, ``self.reporter.emit``, ``runtime.reporter.emit``, ...


@dataclass(frozen=True)
class Use:
    """One literal (or pattern) found at one place: ``what`` is ``kind`` or ``code``."""

    what: str
    value: str
    where: str  # devnode/x.py:LINE
    producer: bool  # False: a consumer compares against it or keys a table with it
    pattern: bool = False  # an f-string with unresolved parts as ``*``


@dataclass(frozen=True)
class Unresolved:
    """A kind or code this cannot tell statically: ``why`` names the expression (line numbers aside)."""

    file: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.why}"


@dataclass
class Found:
    """What ``scan_package`` found: every use, and what it could not resolve."""

    uses: list[Use] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)

    def values(self, what: str, producer: bool | None = None) -> set[str]:
        return {u.value for u in self.uses if u.what == what and not u.pattern
                and (producer is None or u.producer == producer)}


def scan_package(package: Path = PACKAGE) -> Found:
    """Every use of a kind or code in ``package`` (its ``codes.py``, the registry itself, aside)."""
    found = Found()
    files = sorted(p for p in package.rglob("*.py") if p != package / REGISTRY.name)
    trees = {_rel(path, package): ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in files}
    calls = _calls_by_name(trees)
    for file, tree in trees.items():
        _Scanner(found, file, calls).visit(tree)
    return found


def _rel(path: Path, package: Path) -> str:
    return str(path.relative_to(package.parent))


# -- resolving an expression to its possible strings -----------------------------------------------------

def _strings(node: ast.expr, loops: dict[str, list[str]]) -> tuple[list[str], bool] | None:
    """The strings ``node`` can be, and whether they are patterns; None when it cannot be told statically."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value], False
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in (
            "WarningCode", "NoteCode", "RecordKind"):
        return [f"{node.value.id}.{node.attr}"], False  # checked against the enum's members by the test
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body, loops), _strings(node.orelse, loops)
        if body is None or orelse is None:
            return None
        return body[0] + orelse[0], body[1] or orelse[1]
    if isinstance(node, ast.JoinedStr):
        parts: list[list[str]] = []
        pattern = False
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append([str(value.value)])
            elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name) and value.value.id in loops:
                parts.append(loops[value.value.id])
            else:
                parts.append(["*"])
                pattern = True
        return ["".join(p) for p in itertools.product(*parts)], pattern
    return None


def _calls_by_name(trees: dict[str, ast.Module]) -> dict[str, list[tuple[str, ast.Call]]]:
    """Every call in the package by the called name (``f(...)`` and ``x.f(...)`` alike)."""
    calls: dict[str, list[tuple[str, ast.Call]]] = {}
    for file, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _called_name(node)
                if name is not None:
                    calls.setdefault(name, []).append((file, node))
    return calls


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_reporter_emit(call: ast.Call) -> bool:
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "emit"):
        return False
    receiver = func.value
    return (isinstance(receiver, ast.Name) and receiver.id in REPORTER_NAMES) or (
        isinstance(receiver, ast.Attribute) and receiver.attr in REPORTER_NAMES)


def _is_parity_note(call: ast.Call) -> bool:
    """``<...>notices.note(CODE, ...)`` or ``<...>parity.note(CODE, ...)``: a parity notice, later a warning."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "note"):
        return False
    receiver = func.value
    name = receiver.id if isinstance(receiver, ast.Name) else receiver.attr if isinstance(receiver, ast.Attribute) else ""
    return name.endswith(("notices", "parity"))


def _is_kind_read(node: ast.expr) -> str | None:
    """``"kind"``/``"code"`` when ``node`` is ``record["kind"]`` or ``r.get("kind")`` (or the same for code).

    Only on names records go by (``r``, ``record``, ``*_record``): the local chain's transactions
    have a ``kind`` too (``tx["kind"] == "transfer"``), and that is not a record kind.
    """
    key: ast.expr | None = None
    holder: ast.expr | None = None
    if isinstance(node, ast.Subscript):
        key, holder = node.slice, node.value
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
          and node.args):
        key, holder = node.args[0], node.func.value
    if not (isinstance(holder, ast.Name) and _is_record_name(holder.id)):
        return None
    if isinstance(key, ast.Constant) and key.value in ("kind", "code"):
        return str(key.value)
    return None


def _is_record_name(name: str) -> bool:
    return name in ("r", "record", "rec") or name.endswith("_record")


class _Scanner(ast.NodeVisitor):
    def __init__(self, found: Found, file: str, calls: dict[str, list[tuple[str, ast.Call]]]) -> None:
        self.found, self.file, self.calls = found, file, calls
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.loops: dict[str, list[str]] = {}
        self.code_names: set[str] = set()  # local names assigned from ``r.get("code")``

    # -- context ------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._in_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._in_function(node)

    def _in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node)
        saved = self.code_names
        self.code_names = set()
        self.generic_visit(node)
        self.code_names = saved
        self.functions.pop()

    def visit_For(self, node: ast.For) -> None:
        values = _strings_of_sequence(node.iter)
        if isinstance(node.target, ast.Name) and values is not None:
            self.loops[node.target.id] = values
            self.generic_visit(node)
            del self.loops[node.target.id]
        else:
            self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if _is_kind_read(node.value) == "code":
                self.code_names.add(name)
            if not self.functions:
                self._module_table(name, node.value, node.lineno)
        self._notices(node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name) and node.value is not None and not self.functions:
            self._module_table(node.target.id, node.value, node.lineno)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._notices(node)
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        self._notices(node)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        self._notices(node)
        self.generic_visit(node)

    # -- producers ----------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        if _is_reporter_emit(node) and node.args:
            self._resolve("kind", node.args[0], node.lineno, producer=True)
            for keyword in node.keywords:
                if keyword.arg == "code":
                    self._resolve("code", keyword.value, node.lineno, producer=True)
                elif keyword.arg is None:
                    self._forwarded_code(keyword.value)
        elif _is_parity_note(node) and node.args:
            self._resolve("code", node.args[0], node.lineno, producer=True)
        elif _called_name(node) == "ParityWarning":
            code = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "code"), None)
            if code is None:
                self._unresolved(node.lineno, "ParityWarning(...) without a code")
            else:
                self._resolve("code", code, node.lineno, producer=True)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        keys = {k.value: v for k, v in zip(node.keys, node.values)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        if "kind" in keys and "code" in keys:  # a warning record built by hand
            self._resolve("kind", keys["kind"], node.lineno, producer=True)
            self._resolve("code", keys["code"], node.lineno, producer=True)
        self.generic_visit(node)

    def _forwarded_code(self, node: ast.expr) -> None:
        """``emit(kind, **fields)`` with the enclosing function's ``**fields``: its callers' ``code=`` count."""
        function = self.functions[-1] if self.functions else None
        if not (isinstance(node, ast.Name) and function is not None and function.args.kwarg is not None
                and function.args.kwarg.arg == node.id):
            return
        for file, call in self.calls.get(function.name, []):
            for keyword in call.keywords:
                if keyword.arg != "code":
                    continue
                strings = _strings(keyword.value, {})
                if strings is None:
                    self.found.unresolved.append(Unresolved(file, call.lineno, f"{function.name}(code=...) is not a literal"))
                    continue
                for value in strings[0]:
                    self.found.uses.append(Use("code", value, f"{file}:{call.lineno}", True, strings[1]))

    def _notices(self, node: ast.stmt) -> None:
        """``(code, message)`` tuples in a statement that fills or returns notices."""
        in_notices = bool(self.functions) and self.functions[-1].name == "notices" and isinstance(node, ast.Return)
        mentions = any((isinstance(n, ast.Attribute) and n.attr == "notices") or (isinstance(n, ast.Name) and n.id == "notices")
                       for n in ast.walk(node))
        if not (in_notices or (mentions and not isinstance(node, ast.Return))):
            return
        for tuple_ in (n for n in ast.walk(node) if isinstance(n, ast.Tuple) and len(n.elts) == 2):
            if isinstance(tuple_.elts[0], ast.Constant) and isinstance(tuple_.elts[0].value, str):
                self._resolve("code", tuple_.elts[0], tuple_.lineno, producer=True)

    # -- consumers ----------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        sides = [node.left, *node.comparators]
        read = next((r for r in map(_is_kind_read, sides) if r is not None), None)
        if read is None and any(isinstance(s, ast.Name) and s.id in self.code_names for s in sides):
            read = "code"
        if read is not None:
            for side in sides:
                for value in _strings_of_sequence(side) or []:
                    self._use(read, value, node.lineno, producer=False)
        self.generic_visit(node)

    def _module_table(self, name: str, value: ast.expr, line: int) -> None:
        if name.endswith("_CODES"):
            values = _strings_of_sequence(value)
            if values is None:
                self._unresolved(line, f"{name} is not a literal set of codes")
            for code in values or []:
                self._use("code", code, line, producer=False)
        elif name.endswith(("FORMATTERS", "RENDERERS")) and isinstance(value, ast.Dict):
            for key in value.keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    self._use("kind", key.value, line, producer=False)

    # -- recording ------------------------------------------------------------------------
    def _resolve(self, what: str, node: ast.expr, line: int, producer: bool) -> None:
        strings = _strings(node, self.loops)
        if strings is not None:
            for value in strings[0]:
                self._use(what, value, line, producer, pattern=strings[1])
            return
        param = self._parameter_position(node)
        if param is not None:
            self._resolve_callers(what, *param, line)
            return
        self._unresolved(line, f"{what} {ast.unparse(node)!r} is not a literal")

    def _parameter_position(self, node: ast.expr) -> tuple[str, str, int] | None:
        """(function, parameter, position at a call site) when ``node`` is a parameter of the enclosing function."""
        if not (isinstance(node, ast.Name) and self.functions):
            return None
        function = self.functions[-1]
        params = [a.arg for a in function.args.posonlyargs + function.args.args]
        if node.id not in params:
            return None
        position = params.index(node.id) - (1 if params and params[0] in ("self", "cls") else 0)
        return function.name, node.id, position

    def _resolve_callers(self, what: str, function: str, param: str, position: int, line: int) -> None:
        sites = self.calls.get(function, [])
        if not sites:
            self._unresolved(line, f"{what} comes from {function}({param}=...), which nothing calls")
        for file, call in sites:
            arg = call.args[position] if len(call.args) > position else next(
                (k.value for k in call.keywords if k.arg == param), None)
            strings = _strings(arg, {}) if arg is not None else None
            if strings is None:
                self.found.unresolved.append(Unresolved(file, call.lineno, f"{function}() is passed a {what} that is not a literal"))
                continue
            for value in strings[0]:
                self.found.uses.append(Use(what, value, f"{file}:{call.lineno}", True, strings[1]))

    def _use(self, what: str, value: str, line: int, producer: bool, pattern: bool = False) -> None:
        self.found.uses.append(Use(what, value, f"{self.file}:{line}", producer, pattern))

    def _unresolved(self, line: int, why: str) -> None:
        self.found.unresolved.append(Unresolved(self.file, line, why))


def _strings_of_sequence(node: ast.expr) -> list[str] | None:
    """The strings of ``"a"`` or a literal tuple/list/set of them (``LEFTOVER_CODES | {"leak"}`` too)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        return values if len(values) == len(node.elts) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _strings_of_sequence(node.left), _strings_of_sequence(node.right)
        if left is None and isinstance(node.left, ast.Name):
            left = []  # another *_CODES set, checked where it is defined
        if right is None and isinstance(node.right, ast.Name):
            right = []
        return None if left is None or right is None else left + right
    return None
