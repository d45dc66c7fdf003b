"""The ``seg`` command line: typer commands that parse options, call services, render."""
