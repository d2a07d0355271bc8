"""The premise of sharding by user (docs/scaling.md): every SQL statement on a user-owned table filters by the user,
so on Citus each one could be routed to the one shard holding that user's rows.

A statement filters by the user when it names `user_id` itself, or when it only ever runs inside
`user_transaction(pool, user_id)`: that sets `app.user_id` for the transaction and the table's forced row-level
security policy adds `user_id = <that user>` to every statement (on Citus: a distributed table whose distribution
column is `user_id`, the setting becoming the routing key). The check is static: every statement in the services'
Python is found with `ast`, its enclosing function traced to its call sites. The cross-user scans that exist on
purpose are listed in EXCEPTIONS with the reason they are one, and what they become on a sharded database.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"
SCHEMAS = ("ingest", "analysis", "billing", "search")
STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
TABLE = re.compile(r"\b(?:" + "|".join(SCHEMAS) + r")\.\w+")
# `user_id = $1`, `user_id = ANY($1)`, `t.user_id = $2::uuid`, or an INSERT that supplies the column.
NAMES_USER = re.compile(r"\buser_id\s*(=|IN\b)|\(\s*[^)]*\buser_id\b[^)]*\)\s*VALUES", re.IGNORECASE)
OWNER_POLICY = re.compile(
    r"CREATE POLICY \w+ ON (\w+\.\w+)\s+USING \(user_id = nullif\(current_setting\('app\.user_id', true\), ''\)::uuid"
)

# (service file relative to services/, function) -> why it reads or writes across users, and its sharded form.
EXCEPTIONS = {
    ("analysis/trove_analysis/processing.py", "dead_letters"): (
        "admin: the dead-letter list spans every user (all_users_transaction, policy dead_letters_admin); "
        "sharded, a fan-out over the shards, small and rare"
    ),
    ("analysis/trove_analysis/processing.py", "claim_requeue"): (
        "admin: a requeue names the dead letter before its owner is known; sharded, a fan-out by id (or an id that "
        "carries the user)"
    ),
    ("analysis/trove_analysis/processing.py", "dead_letter_exists"): (
        "admin: tells 'no such letter' from 'requeued already' across users, as claim_requeue"
    ),
    ("analysis/trove_analysis/processing.py", "reset"): (
        "runs as the letter's owner: DeadLetters.requeue sets app.user_id to letter.user_id first (the admin "
        "transaction cannot be a user_transaction); sharded, routed by that user"
    ),
    ("billing/trove_billing/repo.py", "upsert_user"): (
        "sign-in: the account is found by firebase_uid before its user_id is known (policy users_self); sharded, "
        "billing.users is a reference table (one small row per account) or a firebase_uid -> user_id lookup"
    ),
}
# SQL functions in the migrations that read user-owned tables across users, and why.
FUNCTION_EXCEPTIONS = {
    "ingest.users_with_blocked_media": (
        "sweeper: which users have media waiting for budget; each user's media is then unblocked in their own "
        "user_transaction; sharded, a periodic fan-out returning user ids"
    ),
    "ingest.users_with_abandoned_uploads": (
        "sweeper: which users have expired upload tickets, then deleted per user as above"
    ),
    "ingest.users_with_stale_queued_media": (
        "re-queuer: which users have media left queued (an enqueue lost with Redis); each user's media is then "
        "queued again in their own user_transaction; sharded, the same fan-out"
    ),
}


@dataclass(frozen=True, slots=True)
class Statement:
    path: str  # relative to services/
    function: str  # qualified: "name", "Class.name", "outer.inner"
    line: int
    sql: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.path, self.function)


Function = tuple[str, str]  # (path relative to services/, qualified name)
Defs = ast.FunctionDef | ast.AsyncFunctionDef
Scopes = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def user_owned_tables() -> set[str]:
    """Tables with forced row-level security: the rows of one user each."""
    tables: set[str] = set()
    for migration in SERVICES.glob("*/migrations/*.sql"):
        tables |= set(re.findall(r"ALTER TABLE (\w+\.\w+) FORCE ROW LEVEL SECURITY", migration.read_text()))
    return tables


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{...}" for v in node.values)
    return None


def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(SERVICES)): ast.parse(path.read_text())
        for path in sorted(SERVICES.glob("*/trove_*/**/*.py"))
    }


def _qualname(ancestors: list[ast.AST]) -> str:
    return ".".join(a.name for a in ancestors if isinstance(a, Scopes))


def _walk(node: ast.AST, ancestors: list[ast.AST]) -> Iterator[tuple[ast.AST, list[ast.AST]]]:
    yield node, ancestors
    for child in ast.iter_child_nodes(node):
        yield from _walk(child, [*ancestors, node])


def statements(owned: set[str], modules: dict[str, ast.Module]) -> list[Statement]:
    """Every SQL statement in the services that touches a user-owned table, with its enclosing function."""
    found = []
    for path, tree in modules.items():
        for node, ancestors in _walk(tree, []):
            sql = _text(node)
            if sql is None or isinstance(ancestors[-1], ast.JoinedStr) or not STATEMENT.match(sql):
                continue
            if set(TABLE.findall(sql)) & owned:
                function = _qualname([*ancestors, node]) if isinstance(node, Scopes) else _qualname(ancestors)
                found.append(Statement(path=path, function=function, line=node.lineno, sql=" ".join(sql.split())))
    return found


def _in_user_transaction(ancestors: list[ast.AST]) -> bool:
    for node in ancestors:
        if isinstance(node, ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id == "user_transaction"
                ):
                    return True
    return False


class CallGraph:
    """Who calls each function: `f()` (this module or an enclosing function), `module.f()` (a module of the same
    service imported by its name), `self.f()` (a method of the same class)."""

    def __init__(self, modules: dict[str, ast.Module]) -> None:
        self.defs: set[Function] = set()
        calls: list[tuple[str, ast.Call, list[ast.AST]]] = []
        for path, tree in modules.items():
            for node, ancestors in _walk(tree, []):
                if isinstance(node, Defs):
                    self.defs.add((path, _qualname([*ancestors, node])))
                elif isinstance(node, ast.Call):
                    calls.append((path, node, ancestors))
        self.sites: dict[Function, list[tuple[Function | None, list[ast.AST]]]] = {}
        for path, call, ancestors in calls:
            target = self._resolve(path, call, ancestors)
            if target is not None:
                caller = (path, _qualname(ancestors)) if any(isinstance(a, Defs) for a in ancestors) else None
                self.sites.setdefault(target, []).append((caller, ancestors))

    def _resolve(self, path: str, call: ast.Call, ancestors: list[ast.AST]) -> Function | None:
        func = call.func
        if isinstance(func, ast.Name):
            scopes = [a for a in ancestors if isinstance(a, Scopes)]
            for depth in range(len(scopes), -1, -1):  # the innermost enclosing definition of that name
                candidate = (path, ".".join([*(s.name for s in scopes[:depth]), func.id]))
                if candidate in self.defs:
                    return candidate
            return None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id == "self":
                classes = [a for a in ancestors if isinstance(a, ast.ClassDef)]
                if classes:
                    return (path, _qualname(ancestors[: ancestors.index(classes[-1]) + 1]) + "." + func.attr)
                return None
            package = path.rsplit("/", 1)[0]
            candidate = (f"{package}/{func.value.id}.py", func.attr)
            return candidate if candidate in self.defs else None
        return None

    def user_scoped(self, function: Function, seen: frozenset[Function] = frozenset()) -> bool:
        """True when every call of `function` runs in a user transaction, directly or through its callers."""
        sites = self.sites.get(function, [])
        if not sites or function in seen:
            return False
        for caller, ancestors in sites:
            if _in_user_transaction(ancestors):
                continue
            if caller is None or not self.user_scoped(caller, seen | {function}):
                return False
        return True


def _unscoped() -> dict[tuple[str, str], list[Statement]]:
    modules = _modules()
    graph = CallGraph(modules)
    unscoped: dict[tuple[str, str], list[Statement]] = {}
    for statement in statements(user_owned_tables(), modules):
        if NAMES_USER.search(statement.sql) or graph.user_scoped(statement.key):
            continue
        unscoped.setdefault(statement.key, []).append(statement)
    return unscoped


def test_every_user_owned_table_has_an_owner_policy_on_user_id() -> None:
    owned = user_owned_tables()
    assert len(owned) >= 10
    policies = set()
    for migration in SERVICES.glob("*/migrations/*.sql"):
        policies |= set(OWNER_POLICY.findall(" ".join(migration.read_text().split())))
    assert owned <= policies, f"user-owned tables without a user_id policy: {sorted(owned - policies)}"


def test_the_scan_finds_the_statements_of_every_service() -> None:
    found = statements(user_owned_tables(), _modules())
    assert {s.path.split("/")[0] for s in found} == set(SCHEMAS)
    assert len(found) >= 50


def test_every_statement_on_a_user_owned_table_filters_by_the_user() -> None:
    unscoped = _unscoped()
    unexplained = {key: found for key, found in unscoped.items() if key not in EXCEPTIONS}
    listing = [f"{s.path}:{s.line} in {s.function}: {s.sql[:150]}" for found in unexplained.values() for s in found]
    assert not unexplained, "statements not filtered by the user:\n" + "\n".join(listing)


def test_every_exception_is_still_a_cross_user_statement() -> None:
    stale = set(EXCEPTIONS) - set(_unscoped())
    assert not stale, f"EXCEPTIONS lists functions that now filter by the user (or are gone): {sorted(stale)}"


def test_every_cross_user_sql_function_is_a_listed_exception() -> None:
    functions = {}
    for migration in SERVICES.glob("*/migrations/*.sql"):
        for name, body in re.findall(r"CREATE FUNCTION (\w+\.\w+)\(.*?\$\$(.*?)\$\$", migration.read_text(), re.S):
            functions[name] = body
    owned = user_owned_tables()
    cross_user = {name for name, body in functions.items() if set(TABLE.findall(body)) & owned}
    cross_user = {name for name in cross_user if not NAMES_USER.search(functions[name])}
    assert cross_user == set(FUNCTION_EXCEPTIONS)
