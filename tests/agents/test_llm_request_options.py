"""Options for local servers: per-role pass-through, the JSON schema of actions, the folded system
prompt, and the job-start server check (identity, context window, tool probe) against mocked servers
(tests/experiments/test_local_server.py runs them against a real llama.cpp server)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from agents.llm import ChatRequest, OpenAIChat, ReplayBackend, RetryPolicy, make_backend
from agents.llm.openai_client import actions_response_format, fold_system
from agents.llm.server_check import PROBE_CODEWORD, ServerCheckError, check_server, count_tokens

BASE = "http://127.0.0.1:9999/v1"
TOOLS = [{"name": "read_file", "description": "Read a file.", "parameters": {"type": "object", "properties": {}}}]
SYSTEM = {"role": "system", "content": "You are the agent."}


def backend(**kw) -> OpenAIChat:
    return OpenAIChat(
        model="m", base_url=BASE, api_key_env=None, client=httpx.Client(), retry=RetryPolicy(max_attempts=1), **kw
    )


def reply(content: str | None = None, tool_calls: list | None = None, usage: dict | None = None) -> dict:
    message: dict = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"choices": [{"message": message, "finish_reason": "stop"}], "usage": usage or {"prompt_tokens": 9}}


def request(**kw) -> ChatRequest:
    return ChatRequest(model="", messages=[SYSTEM, {"role": "user", "content": "Count the errors."}], tools=TOOLS, **kw)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"judge": {"stop": "x"}}, r"unknown role 'judge'; accepted: agent, tool_author"),
        ({"agent": {"top_k": 3}}, r"unknown option 'top_k'; accepted: tool_choice, response_format, stop"),
        ({"agent": {"tool_choice": "always"}}, r"request_options.agent.tool_choice: got 'always'; accepted"),
        ({"agent": {"stop": ["a", "b", "c", "d", "e"]}}, r"stop: got .*up to 4 strings"),
        ({"agent": {"response_format": {"type": "yaml"}}}, r"response_format: got"),
        ({"tool_author": {"response_format": "actions"}}, r"constrains the agent's JSON actions"),
        ({"agent": "required"}, r"request_options.agent must be a mapping"),
    ],
)
def test_bad_request_options_name_what_is_accepted(options, message):
    with pytest.raises(ValueError, match=message):
        backend(request_options=options)
    with pytest.raises(ValueError, match=message):  # the same through the config
        make_backend({"provider": "openai", "model": "m", "base_url": BASE, "request_options": options})


def test_options_reach_the_payload_of_their_role_only():
    opts = {"agent": {"tool_choice": "required", "stop": ["</s>"]}, "tool_author": {"stop": "END"}}
    b = backend(request_options=opts)
    agent = b._payload(request(), "m")
    assert agent["tool_choice"] == "required" and agent["stop"] == ["</s>"]
    author = b._payload(request(role="tool_author"), "m")
    assert author["stop"] == "END" and "tool_choice" not in author
    no_tools = b._payload(ChatRequest(model="", messages=[SYSTEM]), "m")
    assert "tool_choice" not in no_tools  # servers refuse tool_choice without tools


def test_the_action_schema_is_sent_in_json_action_mode_and_the_answer_unwrapped():
    b = backend(native_tools=False, request_options={"agent": {"response_format": "actions"}})
    payload = b._payload(request(), "m")
    schema = payload["response_format"]["json_schema"]["schema"]
    assert schema["anyOf"][0]["properties"]["tool"]["enum"] == ["read_file"]
    assert schema["anyOf"][1]["required"] == ["answer"]
    assert '{"answer": <the answer>}' in payload["messages"][0]["content"]  # the model is told the form
    with respx.mock:
        respx.post(f"{BASE}/chat/completions").respond(200, json=reply('{"answer": {"count": 3}}'))
        answer = b.complete(request())
        respx.post(f"{BASE}/chat/completions").respond(200, json=reply('{"tool": "read_file", "arguments": {}}'))
        call = b.complete(request())
    assert answer.text == '{"count": 3}' and answer.tool_calls == []
    assert call.tool_calls[0].name == "read_file"
    # llama-cpp-python's form, and nothing sent in native mode (tools travel natively there)
    assert actions_response_format(TOOLS, "actions_json_object") == {"type": "json_object", "schema": schema}
    native = backend(request_options={"agent": {"response_format": "actions"}})
    assert "response_format" not in native._payload(request(), "m")
    native.use_json_actions()  # after the tool probe fell back
    assert native._payload(request(), "m")["response_format"]["type"] == "json_schema"


def test_the_system_prompt_folds_into_the_first_user_message():
    payload = backend(fold_system_prompt=True)._payload(request(), "m")
    assert [m["role"] for m in payload["messages"]] == ["user"]
    assert payload["messages"][0]["content"] == "You are the agent.\n\nCount the errors."
    assert fold_system([SYSTEM]) == [{"role": "user", "content": "You are the agent."}]
    assert fold_system([{"role": "user", "content": "x"}]) == [{"role": "user", "content": "x"}]


def test_a_tool_call_turn_is_sent_with_empty_content_not_null():
    """llama-cpp-python's server answers HTTP 500 to an assistant message whose content is null."""
    call = {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}
    req = ChatRequest(model="", messages=[{"role": "assistant", "content": None, "tool_calls": [call]}], tools=TOOLS)
    assert backend()._payload(req, "m")["messages"][0]["content"] == ""
    assert req.messages[0]["content"] is None  # the transcript (and replay keys) keep what the model said


def no_extras() -> None:
    """A server without llama.cpp's /props and without a tokenize endpoint (inside respx.mock)."""
    respx.get(url__regex=r".*/props$").respond(404)
    respx.post(url__regex=r".*tokenize$").respond(404)


def models(*entries: dict) -> dict:
    return {"object": "list", "data": list(entries)}


def probe_answers(first: dict, second: dict | None = None) -> list[httpx.Response]:
    return [httpx.Response(200, json=first)] + ([httpx.Response(200, json=second)] if second else [])


CALL = [{"id": "p1", "type": "function", "function": {"name": "get_codeword", "arguments": "{}"}}]


@pytest.mark.parametrize(
    ("answers", "tool_calls", "tool_results"),
    [
        (probe_answers(reply("I cannot call tools.")), False, None),
        (probe_answers(reply(None, CALL), reply("The code word? I do not know.")), True, False),
        (probe_answers(reply(None, CALL), reply(f"It is {PROBE_CODEWORD}.")), True, True),
    ],
)
def test_the_tool_probe_tells_what_the_server_does(answers, tool_calls, tool_results, tmp_path):
    with respx.mock:
        respx.get(f"{BASE}/models").respond(200, json=models({"id": "m"}))
        no_extras()
        route = respx.post(f"{BASE}/chat/completions").mock(side_effect=answers)
        b = backend()
        facts = check_server(b, b, tool_probe="fallback", first_request=None, facts_dir=None, replay_only=False)
    assert (facts.tool_calls, facts.tool_results) == (tool_calls, tool_results)
    assert facts.probe_usage.calls == route.call_count == len(answers)
    assert b.native_tools is (tool_calls is True and tool_results is True)  # fell back unless both work
    if tool_calls:  # the second question carries the tool's result as a role "tool" message
        sent = json.loads(route.calls[1].request.content)["messages"]
        assert sent[-1]["role"] == "tool" and PROBE_CODEWORD in sent[-1]["content"]


def test_stop_and_warn(tmp_path):
    for action in ("stop", "warn"):
        with respx.mock:
            respx.get(f"{BASE}/models").respond(200, json=models({"id": "m"}))
            no_extras()
            respx.post(f"{BASE}/chat/completions").respond(200, json=reply("no tools here"))
            b = backend()
            if action == "stop":
                with pytest.raises(ServerCheckError, match=r"ignores tools.*llm.native_tools=false"):
                    check_server(b, b, tool_probe="stop", first_request=None, facts_dir=None, replay_only=False)
            else:
                facts = check_server(b, b, tool_probe="warn", first_request=None, facts_dir=None, replay_only=False)
                assert facts.probe_action == "warned" and b.native_tools  # warned, still native
                assert "llm.tool_probe=fallback" in facts.warnings[0]


def test_identity_and_context_come_from_the_server_and_are_kept_for_replay_only_runs(tmp_path):
    too_long = "needs \\d+ prompt tokens \\(estimated at 4 characters per token\\) plus 100 for the answer"
    with respx.mock:
        no_extras()  # no tokenizer: estimated
        # vLLM-like: reports its context; llama.cpp-like: serves other weights than `model` names
        respx.get(f"{BASE}/models").respond(200, json=models({"id": "qwen-7b", "max_model_len": 60}))
        b = backend()
        with pytest.raises(ServerCheckError, match=too_long + r".*window is 60 tokens \(server\).*No call was spent"):
            check_server(
                b, b, tool_probe=None, first_request=request(max_tokens=100), facts_dir=None, replay_only=False
            )
        respx.get(f"{BASE}/models").respond(200, json=models({"id": "qwen-7b", "max_model_len": 32768}))
        recorder = backend()
        facts = check_server(
            ReplayBackend(recorder, tmp_path, mode="record"), recorder, tool_probe=None,
            first_request=request(max_tokens=100), facts_dir=tmp_path, replay_only=False,
        )  # fmt: skip
    assert recorder.weights == facts.weights == "qwen-7b"  # replay keys now name the served weights
    assert facts.context_window == 32768 and facts.first_request_counted == "estimate"
    with respx.mock:  # replay-only: the server is not asked (no route: any request would fail the test)
        replayer = backend()
        again = check_server(
            ReplayBackend(replayer, tmp_path, mode="replay-only"), replayer, tool_probe=None,
            first_request=request(max_tokens=100), facts_dir=tmp_path, replay_only=True,
        )  # fmt: skip
    assert replayer.weights == "qwen-7b" and again.context_window == 32768
    # a configured label wins over what the server says
    labelled = backend()
    labelled.weights = "my-finetune-v3"
    with respx.mock:
        respx.get(f"{BASE}/models").respond(200, json=models({"id": "qwen-7b"}))
        no_extras()
        check_server(labelled, labelled, tool_probe=None, first_request=None, facts_dir=None, replay_only=False)
    assert labelled.weights == "my-finetune-v3"


def test_a_fallback_to_json_actions_is_counted_again_against_the_window():
    """The tools move into the prompt when the probe falls back: a request that fitted natively may not."""
    native, json_actions = backend(), backend(native_tools=False)
    sizes = [count_tokens(b, b._payload(request(), "m"))[0] for b in (native, json_actions)]
    assert sizes[0] < sizes[1]
    window = (sizes[0] + sizes[1]) // 2 + 10  # fits natively (with 10 for the answer), not as JSON actions
    with respx.mock:
        respx.get(f"{BASE}/models").respond(200, json=models({"id": "m", "max_model_len": window}))
        no_extras()
        route = respx.post(f"{BASE}/chat/completions").respond(200, json=reply("no tools here"))
        b = backend()
        with pytest.raises(ServerCheckError, match=r"\(JSON actions.*needs \d+ .*Only the tool probe's calls"):
            check_server(b, b, tool_probe="fallback", first_request=request(max_tokens=10), facts_dir=None,
                         replay_only=False)  # fmt: skip
    assert route.call_count == 1  # the probe's question; no episode's call
