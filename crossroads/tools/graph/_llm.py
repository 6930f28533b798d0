"""LLM mode for the graph route: the model proposes a relation path (or a Cypher path
pattern), which is validated against the graph's schema and run through the governed
``graph.traverse`` tool — never executed as the model wrote it.

Cypher is accepted only as a single read-only path pattern::

    MATCH (e {name: $entity})-[:directed_by]->(d)<-[:directed_by]-(m) RETURN m

and compiled to a :class:`RelationPath`; anything else (writes, procedure calls,
variable-length or several patterns, WHERE clauses) is refused with the reason, and
the reason is fed back to the model for a bounded number of repairs.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from crossroads.connectors.base import Message
from crossroads.errors import ConfigError, LLMError
from crossroads.policy._principal import Principal
from crossroads.tools.graph._linker import Mention
from crossroads.tools.graph._paths import Direction, RelationPath, Step
from crossroads.tools.graph._planner import Candidate

if TYPE_CHECKING:
    from crossroads.tools.graph._qa import GraphQA

__all__ = ["cypher_to_path", "llm_paths"]

_SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "relation path, e.g. r1/^r2"},
        "cypher": {"type": "string", "description": "one MATCH path pattern RETURN query"},
    },
    "additionalProperties": False,
}
_WRITES = re.compile(
    r"\b(CREATE|MERGE|DELETE|DETACH|SET|REMOVE|DROP|CALL|LOAD|FOREACH|UNWIND|UNION|WITH)\b", re.I
)
_QUERY = re.compile(
    r"^\s*MATCH\s+(?P<pattern>.+?)\s+RETURN\s+(?:DISTINCT\s+)?(?P<ret>\w+)(?:\.\w+)?"
    r"(?:\s+AS\s+\w+)?(?:\s+LIMIT\s+\d+)?\s*;?\s*$",
    re.I | re.S,
)
_NODE = re.compile(r"\(\s*(?P<var>\w*)\s*(?::\s*`?\w+`?\s*)*(?P<props>\{[^{}]*\})?\s*\)")
_REL = re.compile(r"(?P<left><)?-\s*\[\s*\w*\s*:\s*(?P<type>`[^`]+`|\w+)\s*\]\s*-(?P<right>>)?")


def cypher_to_path(cypher: str, *, max_hops: int = 3) -> RelationPath:
    """Compile a single-pattern read-only Cypher query to a relation path from the node
    with a ``name`` property (the entity) to the returned node.

    Raises ``ConfigError`` saying what is not supported.
    """
    bare = re.sub(r"`[^`]*`|'[^']*'|\"[^\"]*\"", " ", cypher)  # names and strings blanked
    write = _WRITES.search(bare)
    if write:
        raise ConfigError(
            f"Cypher with {write.group(1).upper()} is not accepted: only one read-only "
            "MATCH path pattern with RETURN"
        )
    clause = re.search(r"\b(WHERE|OPTIONAL|ORDER|SKIP)\b", bare, re.I)
    if clause:
        raise ConfigError(
            f"{clause.group(1).upper()} is not supported: write one MATCH path pattern that "
            "starts at the entity, (e {name: $entity}), and RETURN the node at its far end"
        )
    query = _QUERY.match(cypher)
    if query is None or re.search(r"\bMATCH\b", query.group("pattern"), re.I):
        raise ConfigError(
            "only 'MATCH (e {name: $entity})-[:REL]->(x) ... RETURN x' is accepted (one "
            "path pattern, no WHERE, no OPTIONAL MATCH)"
        )
    pattern = query.group("pattern").strip()
    if "*" in pattern:
        raise ConfigError("variable-length relationships (*) are not accepted; spell out each hop")
    nodes: list[re.Match[str]] = []
    steps: list[Step] = []
    pos = 0
    while True:
        node = _NODE.match(pattern, pos)
        if node is None:
            raise ConfigError(f"cannot read the node pattern at {pattern[pos : pos + 30]!r}")
        nodes.append(node)
        pos = node.end()
        while pos < len(pattern) and pattern[pos].isspace():
            pos += 1
        if pos >= len(pattern):
            break
        rel = _REL.match(pattern, pos)
        if rel is None:
            raise ConfigError(
                f"cannot read the relationship at {pattern[pos : pos + 30]!r}; write "
                "-[:TYPE]->, <-[:TYPE]- or -[:TYPE]-"
            )
        left, right = bool(rel.group("left")), bool(rel.group("right"))
        if left and right:
            raise ConfigError("a relationship cannot point both ways (<-[...]->)")
        direction: Direction = "in" if left else "out" if right else "both"
        steps.append(Step(rel.group("type").strip("`"), direction))
        pos = rel.end()
        while pos < len(pattern) and pattern[pos].isspace():
            pos += 1
    if not steps:
        raise ConfigError("the pattern has no relationship to follow")
    if len(steps) > max_hops:
        raise ConfigError(f"the pattern has {len(steps)} hops; at most {max_hops} are allowed")
    anchored = [i for i, n in enumerate(nodes) if n.group("props")]
    ret = query.group("ret")
    if anchored != [0] and anchored != [len(nodes) - 1]:
        raise ConfigError(
            "exactly one end of the pattern must be the entity, written (e {name: $entity})"
        )
    if anchored == [len(nodes) - 1]:  # written from the answer to the entity: turn it round
        nodes.reverse()
        flip: dict[str, Direction] = {"out": "in", "in": "out", "both": "both"}
        steps = [Step(s.relation, flip[s.direction]) for s in reversed(steps)]
    if nodes[-1].group("var") != ret:
        raise ConfigError(
            f"RETURN {ret} must name the node at the far end of the pattern from the entity"
        )
    return RelationPath(tuple(steps))


def _propose(reply: Any, text: str, max_hops: int) -> RelationPath:
    data = reply if isinstance(reply, dict) else None
    if data is None:
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        data = loaded if isinstance(loaded, dict) else {"path": text.strip()}
    if isinstance(data.get("cypher"), str) and data["cypher"].strip():
        return cypher_to_path(data["cypher"], max_hops=max_hops)
    if isinstance(data.get("path"), str) and data["path"].strip():
        path = RelationPath.parse(data["path"])
        if len(path) > max_hops:
            raise ConfigError(f"the path has {len(path)} steps; at most {max_hops} are allowed")
        return path
    raise ConfigError('reply with JSON {"path": "..."} or {"cypher": "..."}')


def llm_paths(
    qa: GraphQA,
    question: str,
    principal: Principal,
    mention: Mention,
    allowed: frozenset[str],
) -> tuple[list[Candidate], list[str]]:
    """The model's proposed path for ``question``, validated against the schema (unknown
    relations and malformed answers are sent back for repair); ``([], notes)`` when the
    model fails or never proposes a valid path, so deterministic planning takes over.

    Grants are not checked here but where it runs: ``graph.traverse`` denies (and
    audits) a path through a relation the principal may not traverse.
    """
    assert qa.llm is not None
    relations = qa.graph.relations()
    node = mention.nodes[0]
    around: dict[str, set[str]] = {}
    for edge in qa.graph.neighbors(node, None, direction="both", limit=200):
        if edge.relation in allowed:
            way = "out" if edge.source == node else "in"
            around.setdefault(edge.relation, set()).add(way)
    system = (
        "You plan a path through a knowledge graph that answers the user's question. "
        'Reply with JSON: either {"path": "r1/^r2"} (SPARQL property-path syntax: r '
        "follows a relation from subject to object, ^r backwards, (r|^r) either way) or "
        '{"cypher": "MATCH (e {name: $entity})-[:r1]->(x)<-[:r2]-(y) RETURN y"}. '
        f"At most {qa.max_hops} steps. Relations you may use: "
        + ", ".join(sorted(allowed))
        + f".\nThe question's entity is {qa.graph.node_name(node)!r}; its relations: "
        + (
            "; ".join(f"{r} ({'/'.join(sorted(w))})" for r, w in sorted(around.items()))
            or "none visible"
        )
    )
    messages = [Message("system", system), Message("user", question)]
    notes: list[str] = []
    for attempt in range(1, qa.max_repairs + 2):
        try:
            reply = qa.llm.complete(messages, principal=principal, json_schema=_SCHEMA)
        except LLMError as exc:
            notes.append(f"the model failed ({type(exc).__name__}); planned without it")
            return [], notes
        try:
            path = _propose(reply.data, reply.text, qa.max_hops)
            unknown = sorted(path.relations - relations)
            if unknown:
                raise ConfigError(
                    f"the graph has no relation {unknown[0]!r}; its relations are "
                    + ", ".join(sorted(allowed))
                )
        except ConfigError as exc:
            notes.append(f"attempt {attempt} refused: {exc}")
            messages += [
                Message("assistant", reply.text),
                Message("user", f"That path cannot be used: {exc}. Propose a corrected one."),
            ]
            continue
        return [Candidate(path, 1.0, "llm")], notes
    notes.append("the model proposed no usable path; planned without it")
    return [], notes
