"""The int8 recipes, the default one and the accuracy budget: plain data, no onnx.

The CLI reads these at import (its choices and defaults), so they live apart from
``edgelstm.export.quantize``, which needs onnx to rewrite a graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgelstm.errors import QuantizationError

__all__ = [
    "ACCURACY_BUDGET", "ACTIVATION_RECIPES", "DEFAULT_RECIPE", "RECIPES", "RECIPES_BY_NAME", "Recipe", "choose_recipe",
]

# int8 may lose at most this much accuracy (a fraction: 0.003 is 0.3 points) against fp32. The
# CLI's --budget shows it in points; the library and the model's metadata hold the fraction.
ACCURACY_BUDGET = 0.003


@dataclass(frozen=True)
class Recipe:
    name: str
    op_types: tuple[str, ...]  # Gather: embedding; MatMul: dense layers; LSTM: recurrent weights
    weight_type: str = "QInt8"
    per_channel: bool = False
    reduce_range: bool = False
    batch_invariant: bool = True  # False: activations are quantized per batch at run time


# Offered by default: weight-only, batch-invariant.
RECIPES = (Recipe("weights-s8", ("Gather", "MatMul", "LSTM"), per_channel=True),)
DEFAULT_RECIPE = RECIPES[0].name
# Only on explicit request: onnxruntime's dynamic quantization. Answers depend on the batch.
ACTIVATION_RECIPES = (
    Recipe("dynamic-embedding+dense-s8", ("Gather", "MatMul"), batch_invariant=False),
    Recipe("dynamic-all-s8", ("Gather", "MatMul", "LSTM"), batch_invariant=False),
    Recipe("dynamic-all-s8-per-channel", ("Gather", "MatMul", "LSTM"), per_channel=True, batch_invariant=False),
)
RECIPES_BY_NAME = {r.name: r for r in RECIPES + ACTIVATION_RECIPES}


def choose_recipe(name: str | None = None, *, activation_int8: bool = False) -> Recipe:
    """The recipe called ``name`` (None: the default). A recipe that quantizes activations makes
    a text's answer depend on its batch, so it is a ValueError unless ``activation_int8``;
    an unknown name is a QuantizationError."""
    chosen = name or DEFAULT_RECIPE
    if chosen not in RECIPES_BY_NAME:
        raise QuantizationError(f"unknown recipe {chosen!r}; choose one of {', '.join(RECIPES_BY_NAME)}")
    recipe = RECIPES_BY_NAME[chosen]
    if not recipe.batch_invariant and not activation_int8:
        raise ValueError(f"{chosen} makes answers depend on the batch; add --activation-int8 to allow it")
    return recipe
