"""The sandbox: untrusted tool code runs in a pre-warmed bubblewrap worker, never in the host."""

from evolution.sandbox.runner import CallOutcome, Limits, Sandbox, SandboxError, SandboxRunner, bwrap_path

__all__ = ["CallOutcome", "Limits", "Sandbox", "SandboxError", "SandboxRunner", "bwrap_path"]
