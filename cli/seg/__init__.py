"""seg: configuration-as-code for a customer-data-platform workspace."""

__version__ = "0.1.0"

__all__ = ["__version__"]
