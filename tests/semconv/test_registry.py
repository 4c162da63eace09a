"""registry.json: generated files are current, entries are consistent with the installed
OpenTelemetry registry, and every agent concept of the conventions is covered."""

from __future__ import annotations

import copy
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentel.semconv import attributes as A
from agentel.semconv import generate
from agentel.semconv.compliance import official_attribute_keys
from agentel.semconv.generate import RegistryError, load_registry, render_attributes, validate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture
def names(registry):
    return {a["name"] for a in registry["attributes"]}


# --- generated files ----------------------------------------------------------------------------


def test_attributes_module_is_generated_from_the_registry(registry):
    on_disk = (ROOT / generate.ATTRIBUTES_PATH).read_text(encoding="utf-8")
    assert on_disk == render_attributes(registry), (
        "attributes.py is stale: run `python -m agentel.semconv.generate`"
    )


def test_docs_are_generated_from_the_registry(registry):
    on_disk = (ROOT / generate.DOCS_PATH).read_text(encoding="utf-8")
    assert on_disk == generate.render_docs(registry), (
        "docs/semconv.md is stale: run `python -m agentel.semconv.generate`"
    )


def test_generator_command_writes_and_checks(tmp_path):
    assert generate.main(["--root", str(tmp_path), "--check"]) == 1  # nothing there yet
    assert generate.main(["--root", str(tmp_path)]) == 0
    assert generate.main(["--root", str(tmp_path), "--check"]) == 0
    docs = tmp_path / generate.DOCS_PATH
    docs.write_text(docs.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    assert generate.main(["--root", str(tmp_path), "--check"]) == 1
    # the real checkout is current (the same check CI would run)
    out = subprocess.run(
        [sys.executable, "-m", "agentel.semconv.generate", "--check", "--root", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_constant_name_other_code_imports_is_still_there():
    expected = {
        "GEN_AI_OPERATION_NAME": "gen_ai.operation.name",
        "GEN_AI_SYSTEM": "gen_ai.system",
        "GEN_AI_USAGE_PROMPT_TOKENS": "gen_ai.usage.prompt_tokens",
        "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS": "gen_ai.usage.cache_read.input_tokens",
        "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS": "gen_ai.usage.cache_creation.input_tokens",
        "GEN_AI_REQUEST_CHOICE_COUNT": "gen_ai.request.choice.count",
        "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK": "gen_ai.response.time_to_first_chunk",
        "GEN_AI_TOOL_CALL_ARGUMENTS": "gen_ai.tool.call.arguments",
        "SERVICE_NAME": "service.name",
        "SESSION_ID": "session.id",
        "GEN_AI_USAGE_COST": "gen_ai.usage.cost",
        "AGENTEL_COST_PRICE_VERSION": "agentel.cost.price_version",
        "AGENTEL_RUN_ID": "agentel.run.id",
        "AGENTEL_RUN_ITERATIONS": "agentel.run.iterations",
        "AGENTEL_ITERATION": "agentel.iteration",
        "AGENTEL_OUTPUT_TOKENS_PER_SECOND": "agentel.usage.output_tokens_per_second",
        "ENV_CAPTURE_CONTENT": "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "ENV_STORE": "AGENTEL_STORE",
        "ENV_PRICING": "AGENTEL_PRICING",
        "ENV_MAX_CONTENT_CHARS": "AGENTEL_MAX_CONTENT_CHARS",
        "DEFAULT_STORE": "sqlite:///agentel.db",
    }
    assert {k: getattr(A, k) for k in expected} == expected
    assert A.Operation.INVOKE_AGENT == "invoke_agent" and A.Category.OTHER == "other"
    assert (A.Provider.OPENAI, A.Provider.ANTHROPIC) == ("openai", "anthropic")


# --- consistency with the installed OpenTelemetry registry --------------------------------------


def test_official_entries_are_in_the_installed_registry(registry):
    official = official_attribute_keys()
    missing = [a["name"] for a in registry["attributes"] if a["origin"] == "official"]
    assert [n for n in missing if n not in official] == []


def test_agentel_entries_are_not_official(registry):
    official = official_attribute_keys()
    ours = [a["name"] for a in registry["attributes"] if a["origin"] == "agentel"]
    assert [n for n in ours if n in official] == []
    assert [n for n in ours if n.startswith("gen_ai.")] == ["gen_ai.usage.cost"]
    assert all(n.startswith("agentel.") for n in ours if n != "gen_ai.usage.cost")


def test_official_metrics_are_in_the_installed_registry(registry):
    import opentelemetry.semconv._incubating.metrics as incubating

    known = set()
    for info in pkgutil.iter_modules(incubating.__path__):
        module = importlib.import_module(f"{incubating.__name__}.{info.name}")
        known.update(v for k, v in vars(module).items() if k.isupper() and isinstance(v, str))
    official = [m["name"] for m in registry["metrics"] if m["origin"] == "official"]
    assert official and [m for m in official if m not in known] == []


def test_the_openai_instrumentor_keys_use_the_official_names(names):
    for key in (
        A.GEN_AI_REQUEST_FREQUENCY_PENALTY,
        A.GEN_AI_REQUEST_PRESENCE_PENALTY,
        A.OPENAI_REQUEST_SERVICE_TIER,
        A.OPENAI_RESPONSE_SERVICE_TIER,
        A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
    ):
        assert key in names and key in official_attribute_keys()


# --- coverage of the agent concepts -------------------------------------------------------------

CONCEPTS = {
    "agent initialisation": [
        "gen_ai.agent.name", "gen_ai.agent.id", "gen_ai.agent.description",
        "gen_ai.agent.version", "gen_ai.request.model",
    ],
    "runs": ["error.type", "agentel.run.id", "agentel.run.iterations", "gen_ai.usage.input_tokens"],
    "llm request": [
        "gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.max_tokens",
        "gen_ai.request.seed", "gen_ai.request.stop_sequences", "gen_ai.request.frequency_penalty",
        "gen_ai.request.presence_penalty", "gen_ai.request.choice.count",
    ],
    "llm response": [
        "gen_ai.response.id", "gen_ai.response.model", "gen_ai.response.finish_reasons",
    ],
    "tokens": [
        "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
    ],
    "streaming": [
        "gen_ai.request.stream", "gen_ai.response.time_to_first_chunk",
        "agentel.usage.output_tokens_per_second",
    ],
    "tools": [
        "gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.type", "gen_ai.tool.description",
        "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
    ],
    "child agents and sub-steps": [
        "agentel.agent.relation", "agentel.step.name", "agentel.step.type",
    ],
    "loop iterations": ["agentel.iteration", "agentel.run.iterations"],
    "feedback": [
        "gen_ai.evaluation.name", "gen_ai.evaluation.score.value",
        "gen_ai.evaluation.score.label", "gen_ai.evaluation.explanation",
    ],
    "conversation and user": ["gen_ai.conversation.id", "user.id"],
    "cost": [
        "gen_ai.usage.cost", "agentel.cost.input", "agentel.cost.output",
        "agentel.cost.cache_read", "agentel.cost.cache_write", "agentel.cost.reasoning",
        "agentel.cost.source", "agentel.cost.price_version",
    ],
}  # fmt: skip


@pytest.mark.parametrize("concept", sorted(CONCEPTS))
def test_every_concept_is_covered(concept, names):
    assert [n for n in CONCEPTS[concept] if n not in names] == []


def test_tool_arguments_and_results_are_opt_in(registry):
    by_name = {a["name"]: a for a in registry["attributes"]}
    for name in ("gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.input.messages"):
        assert by_name[name]["requirement_level"] == "opt_in"


def test_operations_events_and_metrics(registry):
    assert {o["name"] for o in registry["operations"]} >= {
        "chat", "text_completion", "embeddings", "execute_tool", "create_agent",
        "invoke_agent", "invoke_workflow",
    }  # fmt: skip
    events = {e["name"]: e for e in registry["events"]}
    assert {"agentel.tool_call", "agentel.plan", "agentel.state_update", "agentel.<kind>"} <= set(
        events
    )
    tool_call = [a["name"] for a in events["agentel.tool_call"]["attributes"]]
    assert tool_call == ["gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.type"]
    feedback = {a["name"] for a in events["gen_ai.evaluation.result"]["attributes"]}
    assert {"gen_ai.evaluation.name", "gen_ai.evaluation.score.value"} <= feedback
    metrics = {m["name"] for m in registry["metrics"]}
    assert {
        "gen_ai.client.token.usage", "gen_ai.client.operation.duration",
        "gen_ai.client.operation.time_to_first_chunk", "agentel.client.cost",
    } <= metrics  # fmt: skip
    assert A.EVENT_TOOL_CALL == "agentel.tool_call"
    assert A.METRIC_AGENTEL_CLIENT_COST == "agentel.client.cost"


def test_every_entry_has_the_required_fields(registry):
    for entry in registry["attributes"]:
        for field in ("name", "type", "unit", "brief", "requirement_level", "stability",
                      "origin", "examples"):  # fmt: skip
            assert field in entry, (entry["name"], field)


# --- validation catches mistakes ----------------------------------------------------------------


def _broken(registry, change):
    doc = copy.deepcopy(registry)
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d["attributes"].append(dict(d["attributes"][0])), "listed twice"),
        (
            lambda d: d["attributes"][0].update(name="gen_ai.usage.mine", origin="agentel"),
            "agentel keys live under 'agentel.'",
        ),
        (lambda d: d["attributes"][0].update(type="float"), "type 'float'"),
        (lambda d: d["attributes"][0].update(requirement_level="must"), "requirement_level"),
        (lambda d: d["attributes"][0].update(origin="vendor"), "origin 'vendor'"),
        (lambda d: d["attributes"][0].pop("unit"), "missing field 'unit'"),
        (lambda d: d["attributes"][0].update(examples=[]), "examples"),
        (lambda d: d["attributes"][0].update(name="Bad Name"), "dotted lower-case"),
        (
            lambda d: d["events"][0]["attributes"].append(
                {"name": "agentel.nope", "requirement_level": "recommended"}
            ),
            "'agentel.nope' is not in the registry",
        ),
        (lambda d: d["metrics"][0].update(instrument="meter"), "instrument 'meter'"),
        (lambda d: d["operations"][0].update(category="llms"), "category 'llms'"),
        (lambda d: d["settings"].append(dict(d["settings"][0])), "defined twice"),
    ],
)
def test_validate_rejects(registry, change, fragment):
    with pytest.raises(RegistryError, match=r"^registry\.json: ") as info:
        validate(_broken(registry, change))
    assert fragment in str(info.value)


def test_the_shipped_registry_is_valid(registry):
    validate(registry)
