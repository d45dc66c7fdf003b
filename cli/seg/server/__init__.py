"""The control plane: an HTTP API (FastAPI) over a Store, enforcing the platform's rules."""
