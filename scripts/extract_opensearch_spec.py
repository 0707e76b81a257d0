"""Extract the request-body schemas this service sends from OpenSearch's official API specification.

Reads the OpenAPI 3.1 spec (https://github.com/opensearch-project/opensearch-api-specification) from
a git directory (no work tree needed), starts from the request bodies of the operations in
`OPERATIONS`, follows every `$ref` they reach and writes one self-contained JSON Schema 2020-12
bundle, `tests/support/opensearch_spec/bundle.json`, holding only those schemas. It also copies the
spec's licence next to it.

    .venv/bin/pip install pyyaml   # not a project dependency: only this script needs it
    .venv/bin/python scripts/extract_opensearch_spec.py \
        --spec-git /work/.mirror/opensearch-project+opensearch-api-specification/repo [--commit <sha>]

What is rewritten, so that a JSON Schema 2020-12 validator (Python `jsonschema`) accepts exactly
what the spec's own test harness accepts (tools/src/tester/ in the spec repository):

- `$ref`s across files (`../schemas/_common.query_dsl.yaml#/components/schemas/QueryContainer`)
  become `#/$defs/_common.query_dsl__QueryContainer`;
- objects are closed where the harness closes them (`Bundler`): without that, the spec's `oneOf`s
  refuse ordinary bodies such as the sort `{"id": {"order": "asc"}}`;
- each closure is written in the cheapest keyword that means it there (`close_objects`), and a
  `oneOf` with an OpenAPI `discriminator` whose branches are provably disjoint on it is evaluated
  branch by branch (`compile_discriminators`); both keep the same valid and invalid bodies, they only
  make validation fast (the mapping schema's `oneOf` of 48 branches nests once per object level);
- every other `discriminator` (OpenAPI-only) is dropped; OpenAPI 3.0's `nullable: true` (not 3.1,
  though a few files carry it) becomes a `"null"` in `type`;
- annotations that never change a result (`description`, `externalDocs`, `title`, `example(s)`,
  `deprecated`, `x-*` extensions) are dropped to keep the bundle small.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

REPOSITORY = "https://github.com/opensearch-project/opensearch-api-specification"
DEFAULT_SPEC_GIT = "/work/.mirror/opensearch-project+opensearch-api-specification/repo"
OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "support" / "opensearch_spec"

# name -> (namespace file, method, paths): the request each operation is sent as.
OPERATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "search": ("spec/namespaces/_core.yaml", "post", ("/{index}/_search",)),
    "count": ("spec/namespaces/_core.yaml", "post", ("/{index}/_count",)),
    "mget": ("spec/namespaces/_core.yaml", "post", ("/{index}/_mget",)),
    "bulk": ("spec/namespaces/_core.yaml", "post", ("/_bulk", "/{index}/_bulk")),
    "indices.create": ("spec/namespaces/indices.yaml", "put", ("/{index}",)),
    "indices.put_index_template": ("spec/namespaces/indices.yaml", "put", ("/_index_template/{name}",)),
    "indices.update_aliases": ("spec/namespaces/indices.yaml", "post", ("/_aliases",)),
    "indices.put_mapping": ("spec/namespaces/indices.yaml", "put", ("/{index}/_mapping",)),
}

# `_bulk` is NDJSON: the spec declares the whole body as an array whose items are any of an action
# line, an update body or a free-form document. The lines are validated one by one, so the bundle
# also names the action-line and update-body schemas, taken from that `anyOf`.
BULK_LINES = {"bulk.action": "OperationContainer", "bulk.update": "UpdateAction"}

# Keywords whose value is a map of names to schemas, a list of schemas, or one schema.
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = (
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
)
_DISCRIMINATOR = "$discriminator"  # a temporary marker: the OpenAPI discriminator of this `oneOf`
_CLOSE = "$close"  # a temporary marker: this schema is closed
_ALL_TYPES = ("array", "boolean", "object", "number", "string", "integer")
# Never change whether an instance is valid.
_DROPPED = {"description", "externalDocs", "title", "example", "examples", "deprecated", "discriminator", "xml"}


class Spec:
    """The spec's YAML files at one commit of a git directory, read on demand."""

    def __init__(self, git_dir: str, commit: str) -> None:
        self.git_dir = git_dir
        self.commit = commit
        self._files: dict[str, dict[str, Any]] = {}

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", self.git_dir, *args], check=True, capture_output=True, text=True).stdout

    def file(self, path: str) -> dict[str, Any]:
        if path not in self._files:
            loaded = yaml.safe_load(self.git("show", f"{self.commit}:{path}"))
            if not isinstance(loaded, dict):
                raise SystemExit(f"{path}: not a YAML mapping")
            self._files[path] = loaded
        return self._files[path]

    def pointer(self, path: str, pointer: str) -> Any:
        node: Any = self.file(path)
        for part in pointer.lstrip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node


def split_ref(base_file: str, ref: str) -> tuple[str, str]:
    """(spec file, JSON pointer) that `ref`, written in `base_file`, points at."""
    target, _, pointer = ref.partition("#")
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), target)) if target else base_file
    return path, pointer


def def_name(path: str, pointer: str) -> str:
    parts = pointer.strip("/").split("/")
    if len(parts) != 3 or parts[:2] != ["components", "schemas"]:
        raise SystemExit(f"unsupported $ref target {path}#{pointer}: only #/components/schemas/<Name> is handled")
    return f"{posixpath.basename(path).removesuffix('.yaml')}__{parts[2]}"


class Bundler:
    """Copies schemas into `$defs`, following each `$ref` once (the transitive closure).

    Objects are closed the way the spec's own test harness closes them before it validates request
    and response bodies (tools/src/tester/MergedOpenApiSpec.ts, `inject_additional_properties`):
    a schema the harness's visitor reaches, that can only be an object and says more than
    `type: object`, gets `unevaluatedProperties: false`, except a component schema itself (it is
    closed where it is used, at each `$ref`) and anything under an `allOf` (the enclosing schema
    is closed instead). Without this the spec's `oneOf`s do not discriminate: an unknown key would
    match every open branch at once (`{"id": {"order": "asc"}}` is both a `FieldWithOrder` and a
    `SortOptions`), and a `oneOf` with two matching branches fails.
    """

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.defs: dict[str, Any] = {}
        self.nullable = 0  # OpenAPI 3.0 `nullable: true` rewritten

    def ref(self, base_file: str, ref: str) -> str:
        path, pointer = split_ref(base_file, ref)
        name = def_name(path, pointer)
        if name not in self.defs:
            self.defs[name] = True  # placeholder: recursive schemas reach themselves
            self.defs[name] = self.schema(path, self.spec.pointer(path, pointer), component=True)
        return f"#/$defs/{name}"

    def schema(
        self, base_file: str, node: Any, *, visited: bool = True, component: bool = False, under_all_of: bool = False
    ) -> Any:
        """`node` rewritten; `visited`: the harness's visitor reaches it; `component`: a component schema itself."""
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise SystemExit(f"{base_file}: a schema that is neither an object nor a boolean: {node!r}")
        # The visitor does not descend into a `$ref` schema, and into `items` of `type: array` only.
        descend = visited and "$ref" not in node

        def sub(key: str, value: Any, visits: bool) -> Any:
            return self.schema(
                base_file, value, visited=descend and visits, under_all_of=under_all_of or key == "allOf"
            )

        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED or key.startswith("x-"):
                if key == "discriminator" and "oneOf" in node:
                    out[_DISCRIMINATOR] = value["propertyName"]  # `compile_discriminators` drops it
                continue
            if key == "$ref":
                out[key] = self.ref(base_file, value)
            elif key in _SCHEMA_MAPS:
                out[key] = {name: sub(key, value, key == "properties") for name, value in value.items()}
            elif key in _SCHEMA_LISTS:
                out[key] = [sub(key, value, key != "prefixItems") for value in value]
            elif key in _SCHEMA_ONE:
                visits = (key == "items" and node.get("type") == "array") or key in ("additionalProperties", "not")
                out[key] = sub(key, value, visits)
            elif key == "nullable":
                continue  # handled below
            else:
                out[key] = value  # type, enum, const, default, required, format, bounds...
        if node.get("nullable") is True:
            self.nullable += 1
            if "type" in out:
                types = out["type"] if isinstance(out["type"], list) else [out["type"]]
                out["type"] = [*types, "null"] if "null" not in types else types
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        if visited and not component and not under_all_of and self.closes(base_file, node):
            out["type"] = "object"
            out[_CLOSE] = True  # `close_objects` says how, once every schema is bundled
        return out

    def closes(self, base_file: str, node: dict[str, Any]) -> bool:
        """Whether the harness closes this (visited) schema."""
        if "unevaluatedProperties" in node:
            return False
        if self.possible_types(base_file, node) != {"object"}:
            return False
        # "Don't apply to basic { type: object } schemas". The harness counts every other key, even
        # `title` or an `x-` extension, so it would close `{type: object, x-protobuf-data-type: bytes}`
        # (free-form documents such as an update's `doc`): only keys that can change validation count here.
        return any(k not in ("type", *_DROPPED) and not k.startswith("x-") for k in node)

    def possible_types(self, base_file: str, node: Any) -> set[str]:
        """The harness's `determine_possible_schema_types`."""
        while isinstance(node, dict) and "$ref" in node:
            base_file, pointer = split_ref(base_file, node["$ref"])
            node = self.spec.pointer(base_file, pointer)
        if not isinstance(node, dict):
            return set(_ALL_TYPES)
        if "type" in node:
            return set(node["type"]) if isinstance(node["type"], list) else {node["type"]}
        if "allOf" in node:
            return set.intersection(*(self.possible_types(base_file, s) for s in node["allOf"]))
        for key in ("anyOf", "oneOf"):
            if key in node:
                return set.union(*(self.possible_types(base_file, s) for s in node[key]))
        if all(k in ("description", "title") or k.startswith("x-") for k in node):
            return set(_ALL_TYPES)
        raise SystemExit(f"{base_file}: cannot tell the possible types of {node!r}")


_ALL = "all"  # a schema that, whenever valid, has evaluated every property of the object


def close_objects(defs: dict[str, Any], roots: list[Any]) -> dict[str, int]:
    """Replace each closure marker with the cheapest keyword that means `unevaluatedProperties: false` there.

    `unevaluatedProperties` is costly to evaluate (every adjacent applicator is evaluated again
    to collect annotations; nested, the cost multiplies: the mapping `Property` union nests one
    `oneOf` of ~40 closed branches per object level). Where the properties a schema evaluates do
    not depend on the instance, the same closure is `additionalProperties: false` (the names are
    all in its own `properties`) or `propertyNames: {enum: [...]}` (they come through `$ref`/`allOf`
    too); where it already evaluates every property (it has `additionalProperties`, or each of
    its `oneOf`/`anyOf` branches is closed), the closure is a no-op. Only the rest keeps
    `unevaluatedProperties: false`. Valid and invalid instances are exactly those of the closure.
    """
    memo: dict[str, Any] = {}

    def cover(node: Any) -> Any:
        """`_ALL`, a frozenset of the property names evaluated whatever the instance, or None (it depends)."""
        if isinstance(node, bool):
            return _ALL if node is False else frozenset()
        if _CLOSE in node or "additionalProperties" in node or "unevaluatedProperties" in node:
            return _ALL
        if any(k in node for k in ("patternProperties", "if", "dependentSchemas", "dependentRequired")):
            return None
        parts: list[Any] = [frozenset(node.get("properties", {}))]
        if "$ref" in node:
            name = node["$ref"].removeprefix("#/$defs/")
            if name not in memo:
                memo[name] = None  # a cycle through $ref/allOf alone: say "it depends"
                memo[name] = cover(defs[name])
            parts.append(memo[name])
        parts.extend(cover(sub) for sub in node.get("allOf", ()))
        for key in ("oneOf", "anyOf"):
            if key in node:
                branches = {cover(sub) for sub in node[key] if can_be_object(sub)}
                parts.append(branches.pop() if len(branches) == 1 else None)
        if _ALL in parts:
            return _ALL
        if None in parts:
            return None
        return frozenset().union(*parts)

    def can_be_object(node: Any) -> bool:
        if isinstance(node, bool):
            return node
        if "$ref" in node and "type" not in node:
            return can_be_object(defs[node["$ref"].removeprefix("#/$defs/")])
        types = node.get("type", "object")
        return "object" in (types if isinstance(types, list) else [types])

    marked: list[dict[str, Any]] = []
    _find(lambda node: node.get(_CLOSE) is True, [*defs.values(), *roots], marked)
    decisions = [(node, cover({k: v for k, v in node.items() if k != _CLOSE})) for node in marked]
    counts = {"no-op": 0, "additionalProperties": 0, "propertyNames": 0, "unevaluatedProperties": 0}
    for node, covered in decisions:
        del node[_CLOSE]
        own = not any(k in node for k in ("$ref", "allOf", "oneOf", "anyOf"))
        if covered == _ALL:
            counts["no-op"] += 1
        elif covered is not None and own:
            node["additionalProperties"] = False
            counts["additionalProperties"] += 1
        elif covered is not None and "propertyNames" not in node:
            node["propertyNames"] = {"enum": sorted(covered)}
            counts["propertyNames"] += 1
        else:
            node["unevaluatedProperties"] = False
            counts["unevaluatedProperties"] += 1
    return counts


def compile_discriminators(defs: dict[str, Any], roots: list[Any]) -> dict[str, int]:
    """Drop each OpenAPI `discriminator`; where provably equivalent, evaluate its `oneOf` as the discriminator reads.

    A `oneOf` evaluates every branch in full (it must count the valid ones), so the mapping
    `Property` union, 48 branches that each accept nested `properties` and `fields`, costs 48^depth.
    When each branch allows the discriminator property only a fixed set of values, and those sets
    are disjoint, at most one branch can hold for an instance that has the property: the `oneOf` is
    then exactly "the branch its value names" (`if`/`then` per branch), plus "one of the branches
    that do not require it" for an instance without it, and no branch for any other value. The
    node must be `type: object` itself, so non-objects fail as before. Otherwise the `oneOf` stays.
    """

    def resolve(node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            node = defs[node["$ref"].removeprefix("#/$defs/")]
        return node

    def constraint(node: Any, prop: str, seen: frozenset[int] = frozenset()) -> tuple[frozenset[Any] | None, bool]:
        """(values `prop` may take, whether it is required) under a branch: its `$ref`/`allOf` chain only."""
        if not isinstance(node, dict) or id(node) in seen:
            return None, False
        seen |= {id(node)}
        values: frozenset[Any] | None = None
        required = prop in node.get("required", ())
        target = node.get("properties", {}).get(prop)
        if target is not None:
            target = resolve(target)
            if isinstance(target, dict) and ("enum" in target or "const" in target):
                values = frozenset(target["enum"]) if "enum" in target else frozenset([target["const"]])
        parts = [defs[node["$ref"].removeprefix("#/$defs/")]] if "$ref" in node else []
        for sub in [*parts, *node.get("allOf", ())]:
            sub_values, sub_required = constraint(sub, prop, seen)
            required = required or sub_required
            if sub_values is not None:
                values = sub_values if values is None else values & sub_values
        return values, required

    def compile_one(node: dict[str, Any]) -> bool:
        prop = node.pop(_DISCRIMINATOR)
        if node.get("type") != "object":
            return False
        found = [constraint(branch, prop) for branch in node["oneOf"]]
        sets = [values for values, _ in found]
        if any(values is None for values in sets):
            return False
        union: set[Any] = set()
        for values in sets:
            assert values is not None
            if union & values:
                return False
            union |= values
        optional = [branch for branch, (_, required) in zip(node["oneOf"], found, strict=True) if not required]
        without: Any = False if not optional else optional[0] if len(optional) == 1 else {"oneOf": optional}
        rules: list[Any] = [
            {"if": {"required": [prop]}, "then": {"properties": {prop: {"enum": sorted(union, key=str)}}}},
            {"if": {"not": {"required": [prop]}}, "then": without},
        ]
        for branch, values in zip(node["oneOf"], sets, strict=True):
            assert values is not None
            test = {"const": next(iter(values))} if len(values) == 1 else {"enum": sorted(values, key=str)}
            rules.append({"if": {"properties": {prop: test}, "required": [prop]}, "then": branch})
        del node["oneOf"]
        node["allOf"] = [*node.get("allOf", ()), *rules]
        return True

    marked: list[dict[str, Any]] = []
    _find(lambda node: _DISCRIMINATOR in node, [*defs.values(), *roots], marked)
    compiled = sum(compile_one(node) for node in marked)
    return {"compiled": compiled, "dropped": len(marked) - compiled}


def compile_keyed_oneofs(defs: dict[str, Any], roots: list[Any]) -> dict[str, int]:
    """Evaluate a `oneOf` whose branches each require a key no other branch requires by that key.

    The aggregation union (`AggregationContainer`) is such a `oneOf`: 65 branches, one per
    aggregation type, 26 of which accept nested `aggs`, so a `oneOf` evaluating every branch costs
    26^depth (and the `unevaluatedProperties` closing its uses evaluates it again). A branch can only
    hold when its key is present, so, on an object: no such key fails; exactly one key means exactly
    its branch; two or more keys fall back to the original `oneOf` (moved to `$defs`, so the branches
    are not copied). Valid bodies and the properties each evaluates are those of the `oneOf`.
    """
    owners = [*defs.items(), *((f"operation.{n}", root) for n, root in enumerate(roots))]
    compiled = 0
    for owner, root in owners:
        marked: list[dict[str, Any]] = []
        _find(lambda node: "oneOf" in node and node.get("type") == "object", [root], marked)
        for node in marked:
            keys = _branch_keys(defs, node["oneOf"])
            if keys is None:
                continue
            base = f"{owner}__oneOf{compiled}"
            defs[f"{base}_keys"] = {"enum": keys}
            defs[base] = {"oneOf": node.pop("oneOf")}
            others = {"not": {"$ref": f"#/$defs/{base}_keys"}}
            rules: list[Any] = [{"not": {"propertyNames": others}}]  # at least one key
            for index, key in enumerate(keys):
                alone = {"propertyNames": {"anyOf": [{"const": key}, others]}}
                branch = {"$ref": f"#/$defs/{base}/oneOf/{index}"}
                rules.append(
                    {
                        "if": {"required": [key]},
                        "then": {"if": alone, "then": branch, "else": {"$ref": f"#/$defs/{base}"}},
                    }
                )
            node["allOf"] = [*node.get("allOf", ()), *rules]
            compiled += 1
    return {"compiled": compiled}


def _branch_keys(defs: dict[str, Any], branches: list[Any]) -> list[str] | None:
    """One key per branch that the branch requires and no other branch does, or None."""
    required = [_required(defs, branch, frozenset()) for branch in branches]
    keys: list[str] = []
    for index, own in enumerate(required):
        others = set().union(*(r for i, r in enumerate(required) if i != index))
        unique = sorted(own - others)
        if not unique:
            return None
        keys.append(unique[0])
    return keys


def _required(defs: dict[str, Any], node: Any, seen: frozenset[int]) -> frozenset[str]:
    """The keys a schema requires through its own `required`, `$ref` and `allOf` (all must hold)."""
    if not isinstance(node, dict) or id(node) in seen:
        return frozenset()
    seen |= {id(node)}
    out = frozenset(node.get("required", ()))
    parts = [defs[node["$ref"].removeprefix("#/$defs/")]] if "$ref" in node else []
    for sub in [*parts, *node.get("allOf", ())]:
        out |= _required(defs, sub, seen)
    return out


def _find(test: Callable[[dict[str, Any]], bool], roots: list[Any], out: list[dict[str, Any]]) -> None:
    """Every schema object under the schemas `roots` that passes `test`, once each."""
    seen: set[int] = set()

    def walk(node: Any) -> None:
        if not isinstance(node, dict) or id(node) in seen:
            return
        seen.add(id(node))
        if test(node):
            out.append(node)
        for key, value in node.items():
            if key in _SCHEMA_MAPS:
                for sub in value.values():
                    walk(sub)
            elif key in _SCHEMA_LISTS:
                for sub in value:
                    walk(sub)
            elif key in _SCHEMA_ONE:
                walk(value)

    for root in roots:
        walk(root)


def request_body_schema(spec: Spec, file: str, method: str, path: str) -> tuple[str, dict[str, Any]]:
    """(content type, schema) of the request body of `method path` declared in `file`."""
    body = spec.file(file)["paths"][path][method]["requestBody"]
    if "$ref" in body:
        ref_file, pointer = split_ref(file, body["$ref"])
        body = spec.pointer(ref_file, pointer)
    (content_type, media), *rest = body["content"].items()
    if rest:
        raise SystemExit(f"{method.upper()} {path}: more than one content type, pick one")
    return content_type, media["schema"]


def bulk_line_branches(body: dict[str, Any]) -> dict[str, int]:
    """Which of the bulk body's `items.anyOf` branches are the action line and the update body."""
    out: dict[str, int] = {}
    for index, option in enumerate(body["items"]["anyOf"]):
        ref = option.get("$ref", "")
        for name, schema in BULK_LINES.items():
            if ref.endswith(f"/components/schemas/{schema}"):
                out[name] = index
    if set(out) != set(BULK_LINES):
        raise SystemExit(f"bulk: expected {sorted(BULK_LINES.values())} among the body's items.anyOf")
    return out


def build(spec: Spec) -> dict[str, Any]:
    bundler = Bundler(spec)
    operations: dict[str, Any] = {}
    for name, (file, method, paths) in OPERATIONS.items():
        bodies = [request_body_schema(spec, file, method, path) for path in paths]
        if any(body != bodies[0] for body in bodies[1:]):
            raise SystemExit(f"{name}: its paths declare different bodies")
        operation = spec.file(file)["paths"][paths[0]][method]
        if operation.get("x-operation-group") != name:
            raise SystemExit(f"{method.upper()} {paths[0]} is {operation.get('x-operation-group')}, not {name}")
        content_type, schema = bodies[0]
        operations[name] = {
            "method": method.upper(),
            "paths": list(paths),
            "content_type": content_type,
            "schema": bundler.schema(file, schema),
        }
        if name == "bulk":
            # The body's `items.anyOf` branches as bundled (closed at that usage point, like any `$ref`).
            branches = operations[name]["schema"]["items"]["anyOf"]
            for line, index in bulk_line_branches(schema).items():
                operations[line] = {
                    "method": method.upper(),
                    "paths": list(paths),
                    "content_type": "application/json",
                    "schema": branches[index],
                }
    roots = [op["schema"] for op in operations.values()]
    closures = close_objects(bundler.defs, roots)
    discriminators = compile_discriminators(bundler.defs, roots)
    keyed = compile_keyed_oneofs(bundler.defs, roots)
    commit_date = spec.git("log", "-1", "--format=%cI", spec.commit).strip()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": (
            "Generated by scripts/extract_opensearch_spec.py from the OpenSearch API specification "
            "(Apache-2.0, see LICENSE.txt): do not edit."
        ),
        "source": {
            "repository": REPOSITORY,
            "commit": spec.commit,
            "date": commit_date,
            "nullable": bundler.nullable,
            "closed_objects": closures,
            "discriminators": discriminators,
            "keyed_oneofs": keyed,
        },
        "operations": operations,
        "$defs": dict(sorted(bundler.defs.items())),
    }


def dump(bundle: dict[str, Any]) -> str:
    """Compact JSON with one line per operation and per schema: small, yet a regeneration diffs by schema."""

    def compact(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    lines = ["{"]
    for key, value in bundle.items():
        if key in ("operations", "$defs"):
            lines.append(f"{compact(key)}:{{")
            items = [f"{compact(name)}:{compact(sub)}" for name, sub in value.items()]
            lines.append(",\n".join(items))
            lines.append("},")
        else:
            lines.append(f"{compact(key)}:{compact(value)},")
    lines[-1] = lines[-1].removesuffix(",")
    lines.append("}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spec-git", default=DEFAULT_SPEC_GIT, help="git directory of opensearch-api-specification")
    parser.add_argument("--commit", default="HEAD", help="commit (or ref) to read; default HEAD")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    args = parser.parse_args(argv)

    probe = Spec(args.spec_git, args.commit)
    spec = Spec(args.spec_git, probe.git("rev-parse", "--verify", f"{args.commit}^{{commit}}").strip())
    bundle = build(spec)
    args.out.mkdir(parents=True, exist_ok=True)
    text = dump(bundle)
    (args.out / "bundle.json").write_text(text + "\n", encoding="utf-8")
    (args.out / "LICENSE.txt").write_text(spec.git("show", f"{spec.commit}:LICENSE.txt"), encoding="utf-8")
    print(
        f"{args.out / 'bundle.json'}: {len(bundle['$defs'])} schemas, {len(text) + 1} bytes, "
        f"from {spec.commit} ({bundle['source']['date']})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
