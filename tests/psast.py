"""PowerShell read without PowerShell: tree-sitter-powershell parsing and the tree helpers the
tests share (tests/unit/powershell/test_powershell.py, tests/pscheck.py).

tree-sitter's grammar is a parser, not PowerShell: it proves syntax and structure, not behaviour.
"""

from __future__ import annotations

import os
import re

import tree_sitter
import tree_sitter_powershell

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGINS = os.path.join(REPO, "plugins")

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


class Source:
    """A parsed PowerShell file: its bytes and its tree."""

    def __init__(self, data, name="<snippet>"):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.data = data
        self.name = name
        self.tree = _PARSER.parse(data)

    @classmethod
    def load(cls, path):
        with open(path, "rb") as handle:
            return cls(handle.read(), os.path.relpath(path, REPO))

    def text(self, node):
        return self.data[node.start_byte:node.end_byte].decode("utf-8")

    def where(self, node):
        """'file:line:column' of a node."""
        line, column = node.start_point
        return "%s:%d:%d" % (self.name, line + 1, column + 1)


def plugin_files():
    """Every .ps1/.psm1 under plugins/, sorted."""
    found = []
    for folder, _dirs, files in os.walk(PLUGINS):
        found.extend(os.path.join(folder, f) for f in files if f.endswith((".ps1", ".psm1")))
    return sorted(found)


# ---------------------------------------------------------------- tree helpers


def walk(node):
    """Every node below ``node`` (included), in document order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def named(node):
    """Named children, comments left out."""
    return [child for child in node.named_children if child.type != "comment"]


def first_error(node):
    """The first ERROR or MISSING node in document order, or None."""
    for current in walk(node):
        if current.type == "ERROR" or current.is_missing:
            return current
    return None


def describe_error(src):
    """'file:line:column: ERROR near ...' for the first syntax error of a parsed source."""
    error = first_error(src.tree.root_node)
    if error is None:
        return None
    line, column = error.start_point
    snippet = src.data.splitlines()[line].decode("utf-8", "replace").strip() if src.data else ""
    kind = "MISSING %s" % error.type if error.is_missing else "ERROR"
    return "%s:%d:%d: %s in: %s" % (src.name, line + 1, column + 1, kind, snippet)


def function_name(src, node):
    return src.text(next(c for c in node.children if c.type == "function_name"))


def functions(src):
    """{name: function_statement node} of a source."""
    return {function_name(src, node): node for node in walk(src.tree.root_node) if node.type == "function_statement"}


def command_name(src, node):
    """The name a ``command`` node invokes, or None (``& $block``, ``. $x``)."""
    parts = named(node)
    if parts and parts[0].type == "command_name":
        return src.text(parts[0])
    return None


def commands(src, node):
    """Names of the commands invoked below ``node``."""
    return {command_name(src, c) for c in walk(node) if c.type == "command" and command_name(src, c)}


def command_parameters(src, node):
    """The ``-Name`` parameters of a ``command`` node, lower case without the dash."""
    return [src.text(c)[1:].rstrip(":").lower() for c in walk(node) if c.type == "command_parameter"
            and _owning_command(c) == node]


def _owning_command(node):
    current = node.parent
    while current is not None and current.type != "command":
        current = current.parent
    return current


def unwrap(node):
    """Descend through the grammar's single-child wrappers (pipeline, unary_expression, ...)."""
    while node.type not in _LITERAL_TYPES and len(named(node)) == 1:
        node = named(node)[0]
    return node


def assignments(src, scope):
    """(left node, right node) of every assignment below ``scope``."""
    for node in walk(scope):
        if node.type == "assignment_expression":
            parts = named(node)
            yield unwrap(parts[0]), unwrap(parts[-1])


def variable_name(src, node):
    return src.text(node).lower() if node.type == "variable" else None


def member_target(src, node):
    """(variable, key) for ``$var.key`` or ``$var['key']``, else None."""
    if node.type == "member_access":
        target, member = named(node)[0], named(node)[-1]
        return variable_name(src, unwrap(target)), src.text(member)
    if node.type == "element_access":
        target, index = named(node)[0], unwrap(named(node)[-1])
        if index.type == "string_literal":
            return variable_name(src, unwrap(target)), literal(src, index)
    return None


def help_text(src, function_node):
    """The comment-based help block (``<# ... #>`` with .SYNOPSIS) of a function, or ''."""
    for node in walk(function_node):
        if node.type == "comment" and src.text(node).startswith("<#") and ".SYNOPSIS" in src.text(node):
            return src.text(node)
    return ""


def help_sections(text):
    """{(keyword, argument): text} of a comment-based help block: ('parameter', 'path'), ('outputs', '')."""
    sections = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"\s*\.([A-Za-z]+)\s*(\S*)\s*$", line)
        if match:
            current = (match.group(1).lower(), match.group(2).lower())
            sections[current] = ""
        elif current is not None:
            sections[current] += line.strip().rstrip("#>") + "\n"
    return sections


# ---------------------------------------------------------------- literal evaluation


class NotLiteral(Exception):
    """A PowerShell expression that is not a plain literal."""


_LITERAL_TYPES = {"hash_literal_expression", "string_literal", "integer_literal", "array_expression",
                  "expression_with_unary_operator", "cast_expression", "statement_list"}


def _string(src, node):
    text = src.text(node)
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if text.startswith('"') and text.endswith('"') and not re.search(r"[$`]", text):
        return text[1:-1]
    raise NotLiteral(text)


def hash_entries(src, node):
    """[(key, value node)] of a hash_literal_expression."""
    body = [c for c in named(node) if c.type == "hash_literal_body"]
    entries = []
    for entry in (named(body[0]) if body else []):
        if entry.type != "hash_entry":
            continue
        key_node, value_node = unwrap(named(entry)[0]), named(entry)[-1]
        key = _string(src, key_node) if key_node.type == "string_literal" else src.text(key_node)
        entries.append((key, value_node))
    return entries


def integer_value(src, node):
    """The value of an integer literal as PowerShell reads it (hex: its bits, unsigned here)."""
    text = src.text(node)
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"\d+", text):
        return int(text)
    raise NotLiteral(text)


def literal(src, node):
    """The Python value of a literal PowerShell expression (hashtables, arrays, strings, numbers,
    $true/$false/$null, [ordered] and the unary comma); NotLiteral for anything else."""
    node = unwrap(node)
    kind = node.type
    if kind == "hash_literal_expression":
        result = {}
        for key, value in hash_entries(src, node):
            if key in result:
                raise NotLiteral("duplicate key %r in %s" % (key, src.text(node)))
            result[key] = literal(src, value)
        return result
    if kind == "string_literal":
        return _string(src, node)
    if kind == "integer_literal":
        return integer_value(src, node)
    if kind == "variable":
        values = {"$true": True, "$false": False, "$null": None}
        if src.text(node).lower() in values:
            return values[src.text(node).lower()]
        raise NotLiteral(src.text(node))
    if kind == "array_literal_expression":
        return [literal(src, item) for item in named(node)]
    if kind == "array_expression":
        items = []
        for inner in named(node):
            statements = named(inner) if inner.type == "statement_list" else [inner]
            for statement in statements:
                value = literal(src, statement)
                items.extend(value if isinstance(value, list) else [value])
        return items
    if kind == "statement_list":
        statements = named(node)
        if len(statements) == 1:
            return literal(src, statements[0])
    if kind == "expression_with_unary_operator":
        if node.children[0].is_named:  # no operator: a wrapper around a cast
            return literal(src, node.children[0])
        operator = src.text(node.children[0])
        operand = named(node)[-1]
        if operator == ",":
            return [literal(src, operand)]
        if operator == "-":
            return -literal(src, operand)
    if kind == "cast_expression":
        type_name = src.text(named(node)[0]).strip("[]").lower()
        if type_name == "ordered":
            return literal(src, named(node)[-1])
    raise NotLiteral(src.text(node))


def assigned_literal(src, variable):
    """The literal value assigned to ``$variable`` at the top level of a source."""
    for left, right in assignments(src, src.tree.root_node):
        if variable_name(src, left) == variable.lower():
            return literal(src, right)
    raise AssertionError("%s assigns no %s" % (src.name, variable))
