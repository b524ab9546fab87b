"""llm-routing §2.1/§1.3: the model a call selects, and manifest fields per model."""

import re
from dataclasses import asdict
from typing import Any

from paulp.domain.routing import MODELS, ModelSpec, default_model, merge_env_overrides, model_spec, resolve_route
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, request_from, tolerances
from tests.conformance.registry import Context, checker

_FIELDS = {"resolvedModelId": "resolved_model_id", "provider": "provider", "providerModelId": "provider_model_id",
           "defaultTemperature": "default_temperature", "defaultMaxTokens": "default_max_tokens",
           "cacheStrategy": "cache_strategy", "inputPer1M": "input_per_1m", "outputPer1M": "output_per_1m",
           "cachedInputPer1M": "cached_input_per_1m", "preview": "preview",
           "contextWindowTokens": "context_window_tokens"}
# Words of a case name that say which manifest field a per-model table lists, most specific first: "cached"
# before "cache", a max-tokens phrase (also "max output tokens") before "output"/"input".
_NAME_FIELDS = ((re.compile(r"cached"), "cached_input_per_1m"), (re.compile(r"cache"), "cache_strategy"),
                (re.compile(r"max\W*(output\W*)?tokens"), "default_max_tokens"),
                (re.compile(r"temperature"), "default_temperature"), (re.compile(r"context"), "context_window_tokens"),
                (re.compile(r"provider\W*model"), "provider_model_id"), (re.compile(r"provider"), "provider"),
                (re.compile(r"output"), "output_per_1m"), (re.compile(r"input"), "input_per_1m"),
                (re.compile(r"preview"), "preview"))


def _view(spec: ModelSpec) -> dict[str, Any]:
    raw = asdict(spec)
    return {camel: raw[snake] for camel, snake in _FIELDS.items()}


@checker(FILE, "model_selection")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case)
    if inp.get("runType"):
        req = merge_env_overrides(request_from({k: v for k, v in inp.items() if k != "env"}), inp.get("env", {}))
        rc, _ = resolve_route(req)
        chosen = req.force_model or default_model(rc)
        assert chosen is not None, f"no model for {rc}"
        assert_matches(_view(model_spec(chosen)), exp, tolerances(case))
        return
    assert set(exp) <= set(MODELS), f"cannot interpret model table keys {sorted(exp)}"
    if exp and all(isinstance(v, dict) for v in exp.values()):  # whole manifest entries per model
        assert_matches({m: _view(model_spec(m)) for m in exp}, exp, tolerances(case))
        return
    name = case["case"].lower()
    attr = next((a for words, a in _NAME_FIELDS if words.search(name)), None)
    assert attr is not None, f"cannot tell which manifest field case {case['case']!r} lists"
    assert_matches({m: getattr(model_spec(m), attr) for m in exp}, exp, tolerances(case))
