"""arise-gym evolution package."""
