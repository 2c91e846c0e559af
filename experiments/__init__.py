"""arise-gym experiments package."""
