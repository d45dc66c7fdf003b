"""What a model's SQL returns: its output column names, read with sqlglot."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["SqlError", "dialect_for", "output_columns"]

_DIALECTS = {
    "postgres": "postgres",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "databricks": "databricks",
}


class SqlError(ValueError):
    """The SQL could not be parsed."""


def dialect_for(catalog: str | None) -> str | None:
    return _DIALECTS.get(catalog or "")


@lru_cache(maxsize=1024)
def output_columns(query: str, dialect: str | None = None) -> tuple[str, ...] | None:
    """The lower-cased output column names of ``query``, or None when they cannot be known
    (``SELECT *``, an unnamed expression). Raises SqlError if the SQL does not parse or is not
    a single query."""
    import sqlglot  # imported on first use: most commands never parse SQL
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise SqlError(str(exc).splitlines()[0]) from None
    except RecursionError:  # sqlglot's parser recurses once per bracket, say
        raise SqlError("the query nests too deeply to be analysed") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise SqlError("the model must be a single SELECT query")
    query_exp = statements[0]
    selects = query_exp.selects
    names = []
    for select in selects:
        if isinstance(select, exp.Star) or (
            isinstance(select, exp.Column) and isinstance(select.this, exp.Star)
        ):
            return None
        name = select.alias_or_name
        if not name or name == "*":
            return None
        names.append(name.lower())
    return tuple(names)
