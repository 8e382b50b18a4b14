"""Tiny random configs for every model file mlx-lm ships.

A generic filler sets each ``ModelArgs`` field by its name (sizes, heads,
layers, vocabulary) or, for a required field it does not know, by its type;
per-family overrides fix what the generic values cannot express (nested
``text_config``s, layer patterns, MoE and MLA sizes). ``NOT_BUILDABLE`` lists
the model files whose tiny model cannot be built or run here, with the reason.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import typing
from typing import Any, Dict

VOCAB = 80

GENERIC: Dict[str, Any] = {
    "vocab_size": VOCAB, "embedding_size": VOCAB, "num_vocab": VOCAB,
    "hidden_size": 32, "d_model": 32, "n_embd": 32, "model_dim": 32,
    "intermediate_size": 48, "ffn_hidden_size": 48, "n_inner": 48, "mlp_hidden_size": 48,
    "moe_intermediate_size": 24, "expert_ffn_hidden_size": 24,
    "shared_expert_intermediate_size": 24, "ff_intermediate_size": 48,
    "intermediate_size_mlp": 48, "shared_intermediate_size": 24, "dense_intermediate_size": 48,
    "num_hidden_layers": 2, "n_layer": 2, "n_layers": 2, "num_layers": 2,
    "num_attention_heads": 4, "n_head": 4, "n_heads": 4, "num_heads": 4,
    "num_key_value_heads": 2, "n_kv_heads": 2, "num_kv_heads": 2,
    "head_dim": 8, "max_position_embeddings": 128, "n_positions": 128, "n_ctx": 128,
    "num_experts": 4, "n_routed_experts": 4, "num_local_experts": 4, "moe_num_experts": 4,
    "num_experts_per_tok": 2, "moe_topk": 2, "n_shared_experts": 1, "num_shared_experts": 1,
    "first_k_dense_replace": 1, "kv_lora_rank": 16, "q_lora_rank": 16,
    "qk_rope_head_dim": 8, "qk_nope_head_dim": 8, "v_head_dim": 8,
    "n_group": 1, "topk_group": 1, "rotary_dim": 8,
    "rms_norm_eps": 1e-5, "layer_norm_epsilon": 1e-5, "layer_norm_eps": 1e-5, "norm_eps": 1e-5,
    "rope_theta": 10000.0, "sliding_window": 4, "model_max_length": 128,
    # logit transforms at values that change the logits visibly
    "final_logit_softcapping": 2.0, "logits_soft_cap": 2.0, "logits_scaling": 3.0,
    "logit_scale": 0.3, "output_multiplier": 0.7, "sliding_window_pattern": 2,
}

# text_config of a wrapper model: (module, class) of its dataclass
TEXT_CONFIG = {
    "gemma3": ("gemma3_text", "ModelArgs"),
    "gemma3n": ("gemma3n", "TextConfig"),
    "gemma4": ("gemma4_text", "ModelArgs"),
    "kimi_k25": ("deepseek_v3", "ModelArgs"),
    "kimi_k3": ("kimi_k3", "TextArgs"),
    "kimi_vl": ("kimi_vl", "TextArgs"),
    "lfm2-vl": ("lfm2", "ModelArgs"),
    "llama4": ("llama4", "TextArgs"),
    "minimax_m3_vl": ("minimax_m3_vl", "TextArgs"),
    "mistral3": ("ministral3", "ModelArgs"),
    "muse_spark": ("muse_spark", "TextArgs"),
    "pixtral": ("llama", "ModelArgs"),
    "qwen2_vl": ("qwen2", "ModelArgs"),
    "qwen3_5": ("qwen3_5", "TextModelArgs"),
    "qwen3_5_moe": ("qwen3_5", "TextModelArgs"),
    "prism_hadamard_qwen35": ("qwen3_5", "TextModelArgs"),
    "qwen3_vl": ("qwen3", "ModelArgs"),
    "qwen3_vl_moe": ("qwen3_moe", "ModelArgs"),
}

_HYBRID_2 = ["full_attention", "sliding_attention"]

OVERRIDES: Dict[str, Dict[str, Any]] = {
    "afm7": {"hidden_dim": 32, "num_kv_reuse_layers": 1},
    "afmoe": {"layer_types": _HYBRID_2, "num_dense_layers": 1},
    "dbrx": {"ffn_config": {"ffn_hidden_size": 48, "moe_num_experts": 4, "moe_top_k": 2},
             "attn_config": {"kv_n_heads": 2, "clip_qkv": 8.0, "rope_theta": 10000.0}},
    "deepseek_v2": {"rope_scaling": {"factor": 1.0, "original_max_position_embeddings": 128,
                                     "type": "yarn"}},
    "exaone4": {"sliding_window_pattern": "LG"},
    "exaone_moe": {"layer_types": _HYBRID_2, "is_moe_layer": [False, True]},
    "gear": {"layer_types": _HYBRID_2},
    "gemma3": {"text_config": {"model_type": "gemma3_text"}},
    "gemma3n": {"text_config": {
        "num_kv_shared_layers": 0, "vocab_size_per_layer_input": VOCAB,
        "rope_local_base_freq": 10000.0, "layer_types": ["sliding_attention", "full_attention"],
        "activation_sparsity_pattern": [0.0, 0.0], "hidden_size_per_layer_input": 8,
        "altup_num_inputs": 2, "altup_coef_clip": 120.0, "altup_correct_scale": True,
        "altup_active_idx": 0, "laurel_rank": 4}},
    "granitemoehybrid": {"layer_types": ["mamba", "attention"], "embedding_multiplier": 2.0,
                         "attention_multiplier": 0.5, "residual_multiplier": 0.5,
                         "num_local_experts": 4, "num_experts_per_tok": 2,
                         "shared_intermediate_size": 24, "mamba_n_heads": 4, "mamba_d_head": 8,
                         "mamba_proj_bias": False, "mamba_d_state": 8, "mamba_d_conv": 4,
                         "mamba_n_groups": 1, "mamba_conv_bias": True},
    "gemma4": {"text_config": {"model_type": "gemma4_text", "vocab_size_per_layer_input": VOCAB,
                               "hidden_size_per_layer_input": 8, "global_head_dim": 16,
                               "num_kv_shared_layers": 0, "layer_types": _HYBRID_2}},
    "gemma4_text": {"vocab_size_per_layer_input": VOCAB, "hidden_size_per_layer_input": 8,
                    "global_head_dim": 16, "num_kv_shared_layers": 0, "layer_types": _HYBRID_2},
    "glm_moe_dsa": {"rope_parameters": {"rope_theta": 10000.0}, "index_head_dim": 16,
                    "index_n_heads": 2, "index_topk": 4, "topk_method": "noaux_tc",
                    "scoring_func": "sigmoid", "moe_layer_freq": 1},
    "hunyuan": {"num_shared_expert": 1, "use_cla": False, "cla_share_factor": 2,
                "rope_scaling": {"alpha": 1.0, "factor": 1.0, "type": "dynamic"}},
    "jamba": {"attn_layer_offset": 1, "attn_layer_period": 2, "expert_layer_offset": 1,
              "expert_layer_period": 2, "mamba_d_conv": 4, "mamba_d_state": 8,
              "mamba_expand": 2},
    "kimi_linear": {"linear_attn_config": {"num_heads": 4, "head_dim": 8, "kda_layers": [1]},
                    "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8},
    "kimi_k3": {"text_config": {"linear_attn_config": {"num_heads": 4, "head_dim": 8,
                                                       "kda_layers": [1],
                                                       "short_conv_kernel_size": 3},
                                "num_experts_per_token": 2}},
    "lfm2": {"layer_types": ["full_attention", "conv"], "block_dim": 32, "block_ff_dim": 48,
             "block_multiple_of": 4, "block_ffn_dim_multiplier": 1.0, "conv_L_cache": 3},
    "lfm2_moe": {"layer_types": ["full_attention", "conv"], "num_dense_layers": 1,
                 "conv_L_cache": 3},
    "lfm2-vl": {"text_config": {"model_type": "lfm2", "layer_types": ["full_attention", "conv"],
                                "block_dim": 32, "block_ff_dim": 48, "block_multiple_of": 4,
                                "block_ffn_dim_multiplier": 1.0, "conv_L_cache": 3}},
    "lille-130m": {"block_size": 128, "n_embd": 96},
    "llama4": {"text_config": {"attention_chunk_size": 4, "interleave_moe_layer_step": 2,
                               "model_type": "llama4", "num_experts_per_tok": 1,
                               "num_hidden_layers": 4}},
    "llama4_text": {"no_rope_layers": [1, 0]},
    "longcat_flash": {"attention_method": "MLA", "zero_expert_type": "identity",
                      "zero_expert_num": 1, "mla_scale_q_lora": True,
                      "mla_scale_kv_lora": True, "routed_scaling_factor": 1.0},
    "longcat_flash_ngram": {"attention_method": "MLA", "zero_expert_type": "identity",
                            "zero_expert_num": 1, "mla_scale_q_lora": True,
                            "mla_scale_kv_lora": True, "routed_scaling_factor": 1.0},
    "mamba2": {"num_heads": 4, "head_dim": 16, "state_size": 8, "n_groups": 1,
               "conv_kernel": 3, "time_step_limit": (0.01, 10.0), "time_step_rank": "auto"},
    "mellum": {"layer_types": _HYBRID_2,
               "rope_parameters": {"full_attention": {"rope_theta": 10000.0},
                                   "sliding_attention": {"rope_theta": 10000.0}}},
    "mimo_v2_flash": {"hybrid_layer_pattern": [0, 1], "moe_layer_freq": [0, 1],
                      "sliding_window_size": 4, "topk_method": "noaux_tc",
                      "scoring_func": "sigmoid", "swa_rope_theta": 10000.0,
                      "swa_num_attention_heads": 4, "swa_num_key_value_heads": 2,
                      "swa_head_dim": 8, "swa_v_head_dim": 8, "partial_rotary_factor": 1,
                      "layernorm_epsilon": 1e-5},
    "minicpm3": {"rope_scaling": {"original_max_position_embeddings": 128}, "dim_model_base": 16},
    "ministral3": {"rope_parameters": {"rope_theta": 10000.0, "llama_4_scaling_beta": 0.1,
                                       "original_max_position_embeddings": 128}},
    "minicpm": {"dim_model_base": 16},
    "mistral3": {"text_config": {"model_type": "ministral3"}},
    "mistral4": {"rope_scaling": None,
                 "rope_parameters": {"rope_theta": 10000.0, "llama_4_scaling_beta": 0.1,
                                     "original_max_position_embeddings": 128}},
    "muse_spark": {"text_config": {"num_shared_experts": 0, "post_norm_eps": 1e-5,
                                   "rope_parameters": {"rope_theta": 10000.0},
                                   "layer_rope_theta": [10000.0, 10000.0],
                                   "layer_types": ["sliding_attention", "full_attention"],
                                   "moe_hidden_size": 24}},
    "nemotron-nas": {"block_configs": [
        {"attention": {"n_heads_in_group": 2, "no_op": False, "replace_with_linear": False},
         "ffn": {"ffn_mult": 1.5, "no_op": False, "replace_with_linear": False}}] * 2},
    "nemotron_h": {"hybrid_override_pattern": ["*", "M"], "mamba_num_heads": 4,
                   "mamba_head_dim": 16, "ssm_state_size": 8, "conv_kernel": 3,
                   "n_groups": 1, "time_step_limit": (0.0, float("inf"))},
    "olmo3": {"layer_types": _HYBRID_2},
    "openelm": {"num_transformer_layers": 2, "num_query_heads": [4, 4], "num_kv_heads": [2, 2],
                "ffn_multipliers": [1.0, 1.5], "ffn_dim_divisor": 8},
    "phi": {"partial_rotary_factor": 0.5},
    # its forward writes -inf into the logits of token ids 100256-100351
    "phi3small": {"vocab_size": 100352, "gegelu_limit": 20.0},
    "phixtral": {"model_dim": 32, "num_heads": 4, "rotary_dim": 4},
    "plamo": {"n_shared_head": 2},
    # the head is a Hadamard-rotated 2-bit layer (Hadamard blocks of 512)
    "prism_hadamard_qwen35": {
        "schema_version": 2, "tensor_namespace": "mlx-vlm-qwen3_5",
        "quantization": {"bits": 2, "group_size": 128, "mode": "affine"},
        "modules": [{"path": "lm_head", "embedding": False, "dtype": "float16", "block": 512}],
        "text_config": {"hidden_size": 512, "tie_word_embeddings": False}},
    "qwen": {"kv_channels": 8},
    "qwen3_next": {"mlp_only_layers": [0], "partial_rotary_factor": 0.5,
                   "linear_num_value_heads": 4, "linear_num_key_heads": 2,
                   "linear_key_head_dim": 8, "linear_value_head_dim": 8,
                   "linear_conv_kernel_dim": 3, "full_attention_interval": 2},
    "qwen3_5": {"text_config": {"linear_num_value_heads": 4, "linear_num_key_heads": 2,
                                "linear_key_head_dim": 8, "linear_value_head_dim": 8,
                                "linear_conv_kernel_dim": 3, "full_attention_interval": 2,
                                "rope_parameters": {"type": "default", "rope_theta": 10000.0,
                                                    "mrope_section": [1, 1, 0],
                                                    "partial_rotary_factor": 0.5},
                                "partial_rotary_factor": 0.5, "num_experts": 0}},
    "qwen3_5_moe": {"text_config": {"num_experts": 4}},
    "recurrent_gemma": {"block_types": ["recurrent", "attention"], "conv1d_width": 4,
                        "attention_window_size": 4},
    "spark2_5": {"layer_types": _HYBRID_2,
                 "rope_parameters": {"full_attention": {"rope_theta": 10000.0},
                                     "sliding_attention": {"rope_theta": 10000.0}}},
    "step3p5": {"num_attention_groups": 2, "moe_num_experts": 4, "moe_top_k": 2,
                "share_expert_dim": 24, "layer_types": _HYBRID_2},
}

# Model files whose tiny model cannot be built or run here, and why.
NOT_BUILDABLE = {
    "olmo": "imports ai2-olmo's hf_olmo at import time and exits the interpreter without it",
}

# Model files whose tie_word_embeddings field their Model does not follow
# (flipping it breaks the model's own forward).
NO_TIE_FLIP = {
    "baichuan_m1": "Model.__call__ always calls lm_head, which only exists untied",
}

# Model files whose own gradient MLX cannot take (mlx-lm cannot train them):
# for these the test compares loss values only.
NO_GRADIENT = {
    "deepseek_v41": "its sparse attention gathers with indices cast from float scores; "
                    "mx.grad raises 'Cannot calculate VJP with respect to indices'",
}

# Model files whose forward runs hand-written Metal kernels (mx.fast.metal_kernel):
# they run on Apple silicon only.
METAL_ONLY = {"bitnet", "muse_spark"}

# Files in mlx_lm/models that define no model (shared layers, caches, ...).
HELPERS = {"activations", "base", "bitlinear_layers", "cache", "gated_delta", "mla",
           "pipeline", "rope_utils", "ssm", "switch_layers"}


def model_files():
    """Every ``mlx_lm/models/*.py`` module name that defines a model."""
    import mlx_lm.models

    folder = os.path.dirname(mlx_lm.models.__file__)
    names = sorted(f[:-3] for f in os.listdir(folder)
                   if f.endswith(".py") and f != "__init__.py")
    return [n for n in names if n not in HELPERS]


def _fill(cls, name: str, overrides: Dict[str, Any]) -> Dict[str, Any]:
    hints = typing.get_type_hints(cls)
    cfg: Dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "model_type":
            cfg[f.name] = name
        elif f.name in GENERIC:
            cfg[f.name] = GENERIC[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            t = hints.get(f.name, f.type)
            if typing.get_origin(t) in (list, typing.List) or t is list:
                cfg[f.name] = []
            else:
                cfg[f.name] = {bool: False, int: 2, float: 1.0, str: ""}.get(t)
    cfg.update(overrides)
    return cfg


def tiny_config(name: str, **extra: Any) -> Dict[str, Any]:
    """A tiny config dict for model file ``name`` (``extra`` on top)."""
    module = importlib.import_module(f"mlx_lm.models.{name}")
    overrides = dict(OVERRIDES.get(name, {}))
    if name in TEXT_CONFIG:
        inner_mod, inner_cls = TEXT_CONFIG[name]
        inner = getattr(importlib.import_module(f"mlx_lm.models.{inner_mod}"), inner_cls)
        base = OVERRIDES.get(inner_mod, {})
        if inner_mod in TEXT_CONFIG:  # the inner model is itself a wrapper's text model
            base = base.get("text_config", {})
        inner_over = {**base, **overrides.pop("text_config", {})}
        inner_over.update(extra.pop("text_config", {}))
        overrides["text_config"] = _fill(inner, inner_mod, inner_over)
    cfg = _fill(module.ModelArgs, name, overrides)
    cfg.update(extra)
    return cfg


def build(name: str, **extra: Any):
    """The tiny ``Model`` of model file ``name``, its parameters evaluated.

    Parameters a model initialises to all zeros (biases, mixing vectors) get
    small random values, as in a trained checkpoint: at exactly zero some
    models' own gradients are NaN (rwkv7's token-shift mixing)."""
    import mlx.core as mx
    from mlx.utils import tree_map

    module = importlib.import_module(f"mlx_lm.models.{name}")
    args = module.ModelArgs.from_dict(tiny_config(name, **extra))
    model = module.Model(args)

    def jitter(x):
        if mx.issubdtype(x.dtype, mx.floating) and x.size and not mx.any(x).item():
            return (0.1 * mx.random.normal(x.shape)).astype(x.dtype)
        return x

    model.update(tree_map(jitter, model.parameters()))
    mx.eval(model.parameters())
    return model
