"""The API's JSON parser: DRF's, with limits on nesting and size of structure.

Python's json module parses nested arrays and objects recursively: a body of
ten thousand `[` raised RecursionError (a 500), and a structure nested a few
hundred levels deep passes the parser only to blow the stack of whatever
walks it next (logging, validation). No request of this API nests deeper
than a few levels, so a body nested deeper than JSON_MAX_DEPTH is a 400
before json.loads sees it.

The structure is measured in a number of passes over the body that does
not depend on its size (see structure_problem), each linear and in C.
"""

import codecs
import re

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json

JSON_MAX_DEPTH = 32
# Nor does any request hold more than a few arrays and objects: a body of
# nothing but `[],` builds hundreds of thousands of lists for nothing.
JSON_MAX_CONTAINERS = 10_000
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
# Every byte but the four brackets (which are ASCII, so never part of a
# longer UTF-8 sequence).
_NOT_A_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))


def structure_problem(text: str) -> str | None:
    """Why the arrays and objects of the JSON `text` are refused (nested
    deeper than JSON_MAX_DEPTH, or more than JSON_MAX_CONTAINERS of them),
    or None. Brackets inside strings do not count; malformed text is left to
    json.loads.

    Every step is a C-speed pass over the text, at most JSON_MAX_DEPTH + 5
    of them: escapes are dropped (so no quote is escaped any more), then
    strings, then everything but brackets; then each pass removes the
    innermost pairs, `[]`. A pair still there after JSON_MAX_DEPTH passes
    has more than JSON_MAX_DEPTH levels inside it."""
    # Fewer opening brackets than the depth limit can be neither too deep
    # nor too many: the common case, two counts.
    if text.count("[") + text.count("{") <= JSON_MAX_DEPTH:
        return None
    outside_strings = _STRING.sub("", _ESCAPE.sub("", text))
    brackets = outside_strings.encode("utf-8", "surrogatepass").translate(None, _NOT_A_BRACKET)
    brackets = brackets.replace(b"{", b"[").replace(b"}", b"]")
    if brackets.count(b"[") > JSON_MAX_CONTAINERS:
        return f"more than {JSON_MAX_CONTAINERS:,} arrays and objects"
    for _ in range(JSON_MAX_DEPTH):
        if b"[]" not in brackets:
            return None  # nothing left, or brackets that do not pair up
        brackets = brackets.replace(b"[]", b"")
    if b"[]" in brackets:
        return f"arrays and objects nest deeper than {JSON_MAX_DEPTH} levels"
    return None


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSONParser, refusing (400) bodies nested deeper than
    JSON_MAX_DEPTH or holding more than JSON_MAX_CONTAINERS arrays and
    objects, before they are parsed."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            if problem := structure_problem(text):
                raise ValueError(problem)
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ParseError(f"JSON parse error - {exc}") from exc
