"""Pure domain model: kinds, resource names, field paths, resources. No I/O."""
