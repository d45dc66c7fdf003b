"""FQL, the Filter Query Language of destination filters and mapping triggers: a parser
(lark), a printer and an evaluator. No I/O."""

from seg.fql.ast import Node, to_source
from seg.fql.evaluate import compile_expr, evaluate
from seg.fql.parser import MAX_BYTES, FqlError, parse

__all__ = ["MAX_BYTES", "FqlError", "Node", "compile_expr", "evaluate", "parse", "to_source"]
