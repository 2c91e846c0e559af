"""The ``code_agent`` condition's one tool: run throwaway Python in the sandbox.

``run_python(code)`` executes the snippet in the same sandbox that validates and runs
evolved tools (the affordances are available as functions, nothing persists between
calls). The snippet reports back by assigning ``result`` (shown as JSON) or by
printing. There is no library: the condition isolates the value of *keeping* tools.
The static policy is not applied: the sandbox is the boundary, as for any snippet.
"""

from __future__ import annotations

from typing import Any

from envs.access import WorldAccess
from envs.tools import ToolResult, ToolSpec, check_args, render_output
from evolution.sandbox.runner import Sandbox

RUN_PYTHON = ToolSpec(
    name="run_python",
    description=(
        "Run a Python snippet in a sandbox (no network, no files; reach the company's systems with http_get, "
        "http_post, list_files, read_file and read_doc, which are predefined). Assign the value to report to "
        "`result` (returned as JSON) or print it. Nothing persists between calls."
    ),
    parameters={
        "type": "object",
        "properties": {"code": {"type": "string", "description": "Python source to run."}},
        "required": ["code"],
        "additionalProperties": False,
    },
)
_EPILOGUE = (
    "\n\ndef _code_agent_result():\n    try:\n        return result\n    except NameError:\n        return None\n"
)


class CodeRunner:
    """A ``ToolRunner`` offering ``run_python`` over a ``Sandbox``."""

    def __init__(self, sandbox: Sandbox, max_output_chars: int = 8000) -> None:
        self.sandbox = sandbox
        self.max_output_chars = max_output_chars

    def specs(self) -> list[ToolSpec]:
        return [RUN_PYTHON]

    def call(self, name: str, args: dict[str, Any], access: WorldAccess) -> ToolResult:
        if name != RUN_PYTHON.name:
            return ToolResult(False, "", f"unknown tool {name!r}; available: ['run_python']")
        problem = check_args(RUN_PYTHON, args)
        if problem:
            return ToolResult(False, "", problem)
        out = self.sandbox.call(str(args["code"]) + _EPILOGUE, "_code_agent_result", {}, access)
        if not out.ok:
            printed = f"\n(printed before the error: {out.output[-1000:]})" if out.output else ""
            return ToolResult(False, "", f"{out.error or 'the snippet failed'}{printed}", out.elapsed_s)
        text = render_output(out.value) if out.value is not None else out.output
        if len(text) > self.max_output_chars:
            text = text[: self.max_output_chars] + f"... [{len(text) - self.max_output_chars} chars cut]"
        return ToolResult(True, text, None, out.elapsed_s)
