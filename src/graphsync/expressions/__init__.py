"""The provisioning expression language (attribute-mapping expressions) and scoping filters.

    node = parse('Join("@", ToLower([givenName]), DefaultDomain())')
    render(node)                      # canonical text
    to_source(node) / from_source(d)  # Graph attributeMappingSource JSON
    evaluate(node, {"givenName": "Ann"}, EvaluationContext(default_domain="contoso.com"))

``evaluate`` may return the markers ``IGNORE_FLOW`` (do not flow the attribute) and
``Redacted(value)`` (flow ``value``, log ``[Redact]``); see ``evaluator``.
Pure module: no I/O; time, randomness and target lookups come from ``EvaluationContext``.
"""
from .context import EvaluationContext
from .errors import EvaluationError, ExpressionError, NoUniqueValueError
from .evaluator import (
    IGNORE_FLOW,
    CompiledExpression,
    Redacted,
    compile_expression,
    evaluate,
    evaluate_traced,
    for_log,
    unwrap,
)
from .functions import FUNCTIONS, function_schemas
from .limits import LimitExceeded
from .nodes import Attribute, BareWord, Comparison, Constant, Function, Node, render
from .parser import MAX_LENGTH, parse
from .scoping import FilterError, clause_matches, filter_operator_schemas, groups_match, scope_matches, validate_filter
from .tree import from_source, to_source
from .values import coerce_input, to_strings

__all__ = [
    "Attribute", "BareWord", "Comparison", "CompiledExpression", "Constant", "EvaluationContext", "EvaluationError",
    "ExpressionError", "FUNCTIONS", "FilterError", "Function", "IGNORE_FLOW", "LimitExceeded", "MAX_LENGTH", "Node",
    "NoUniqueValueError", "Redacted", "clause_matches", "compile_expression", "evaluate", "evaluate_traced",
    "filter_operator_schemas", "for_log", "from_source", "function_schemas", "groups_match", "parse", "render",
    "scope_matches", "to_source", "to_strings", "coerce_input", "unwrap", "validate_filter",
]
