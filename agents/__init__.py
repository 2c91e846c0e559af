"""arise-gym agents package."""
