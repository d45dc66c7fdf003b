"""The platform's numeric limits, shared by `seg validate` and the control plane."""

__all__ = [
    "MAX_DBT_CLOUD_MAPPINGS",
    "MAX_FILTERS_PER_DESTINATION",
    "MAX_MAPPINGS_PER_DESTINATION",
    "MAX_QUERY_LENGTH",
    "MAX_RULES_PER_CALL",
]

MAX_MAPPINGS_PER_DESTINATION = 50
MAX_FILTERS_PER_DESTINATION = 10
MAX_DBT_CLOUD_MAPPINGS = 5  # per workspace (the docs leave the scope open)
MAX_QUERY_LENGTH = 65_535
MAX_RULES_PER_CALL = 200  # "rules must contain less than or equal to 200 items"
