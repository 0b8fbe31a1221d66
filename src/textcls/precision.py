"""How a pretrained backbone sits in memory: weight dtype, 4/8-bit quantization (bitsandbytes, QLoRA), attention kernel.

`check_options` runs when the arguments are parsed (`ModelArguments.__post_init__`), so a missing GPU or
package is one line before any data is read. `from_pretrained_kwargs` is what `families.build_pretrained`
passes to `from_pretrained`; `prepare_for_lora` and `merge_lora` bracket training in `training.py`
(`merge_lora_in_place` in between, before the final evaluation).

Whatever the backbone's dtype, the weights that train (LoRA adapters, the head) stay in float32: Adam's
small updates would round away in bfloat16 weights.
"""

from __future__ import annotations

import importlib.metadata
import logging
import warnings
from pathlib import Path

import torch

from .errors import TextclsError

logger = logging.getLogger(__name__)

TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_CHOICES = ("auto", *TORCH_DTYPES)


def cuda_available() -> bool:
    return torch.cuda.is_available()


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def resolve_dtype(name: str, frozen_backbone: bool) -> torch.dtype:
    """`--torch_dtype` -> the dtype the backbone's weights are loaded in.

    `auto`: bfloat16 on a GPU that has it when the backbone is frozen (LoRA, quantized); float32 on the
    CPU (bfloat16 is fast only on cores with AVX512-BF16 or AMX, not on AVX2-only ones; where it is,
    `--bf16 --use_cpu` opts in: speed (g) in bench/RESULTS.md) and for full fine-tuning, whose AdamW updates
    would round away in bfloat16 weights: there, `--bf16` (mixed precision over float32 weights) is the way.
    """
    if name != "auto":
        return TORCH_DTYPES[name]
    bf16_gpu = cuda_available() and torch.cuda.is_bf16_supported()
    return torch.bfloat16 if frozen_backbone and bf16_gpu else torch.float32


def quantization_flag(model_args) -> str | None:
    return "--load_in_4bit" if model_args.load_in_4bit else "--load_in_8bit" if model_args.load_in_8bit else None


def check_options(model_args, pretrained_family: bool) -> None:
    """One clear line for a dtype, quantization or attention option that cannot work here."""
    if model_args.torch_dtype not in DTYPE_CHOICES:
        raise TextclsError(f"Unknown --torch_dtype {model_args.torch_dtype!r}; choose one of {', '.join(DTYPE_CHOICES)}.")
    quantized = quantization_flag(model_args)
    if not pretrained_family and (quantized or model_args.torch_dtype != "auto"):
        raise TextclsError(
            f"{quantized or '--torch_dtype'} applies to pretrained families (llama); the word-level "
            f"{model_args.model_type} trains in float32 (add --bf16 for mixed precision)."
        )
    if pretrained_family and not model_args.use_lora and model_args.torch_dtype in ("bfloat16", "float16"):
        logger.warning(
            "--torch_dtype %s without --use_lora trains %s weights, in which small updates round away; "
            "float32 weights with --bf16 (mixed precision) are the usual way to fine-tune every weight.",
            model_args.torch_dtype, model_args.torch_dtype,
        )
    if model_args.load_in_4bit and model_args.load_in_8bit:
        raise TextclsError("Pass one of --load_in_4bit and --load_in_8bit, not both.")
    if quantized and not model_args.use_lora:
        raise TextclsError(
            f"{quantized} freezes the model in quantized weights, which cannot be fine-tuned: add --use_lora "
            "(QLoRA), or drop the flag for full fine-tuning."
        )
    if quantized:
        require_package_and_gpu(quantized, "bitsandbytes", "drop the flag (--torch_dtype bfloat16 halves the memory)")
    if model_args.attn_implementation == "flash_attention_2":
        require_package_and_gpu("--attn_implementation flash_attention_2", "flash-attn", "use sdpa (the default)")


def require_package_and_gpu(option: str, package: str, otherwise: str) -> None:
    """One line saying which of `package` and a CUDA GPU `option` lacks, and what to do."""
    version, gpu = installed_version(package), cuda_available()
    if version is not None and gpu:
        return
    found = f"{f'{package} {version}' if version else f'no {package}'}, {'a' if gpu else 'no'} GPU"
    missing = [f"pip install {package}" if version is None else "", "" if gpu else "run on a CUDA GPU machine"]
    raise TextclsError(
        f"{option} needs {package} and a CUDA GPU (found {found}): {' and '.join(filter(None, missing))}, or {otherwise}."
    )


def from_pretrained_kwargs(model_args, head: str) -> dict:
    """dtype, attention kernel and (4/8-bit) quantization for `from_pretrained`; `head` stays unquantized."""
    dtype = resolve_dtype(model_args.torch_dtype, frozen_backbone=model_args.use_lora)
    kwargs = dict(dtype=dtype, attn_implementation=model_args.attn_implementation)
    if quantization_flag(model_args):
        from accelerate import PartialState
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=model_args.load_in_4bit,
            load_in_8bit=model_args.load_in_8bit,
            # QLoRA's choices (Dettmers et al. 2023): 4-bit NormalFloat, quantized quantization constants.
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
            llm_int8_skip_modules=[head],  # the new head is trained, in full precision
        )
        # Quantized weights are placed while they load: each process on its own device (one per DDP rank).
        kwargs["device_map"] = {"": PartialState().device}
    return kwargs


def is_quantized(model) -> bool:
    return getattr(model, "hf_quantizer", None) is not None


def prepare_for_lora(model):
    """Before adapters are added: a quantized model gets peft's k-bit preparation (frozen weights, norms and
    head in float32). Gradient checkpointing is left to the Trainer (`--gradient_checkpointing`)."""
    if is_quantized(model):
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return model


def keep_trainable_in_float32(model) -> None:
    """The weights that train in float32 whatever the backbone's dtype. peft upcasts its adapters itself
    (`autocast_adapter_dtype`), but its copy of the head (`modules_to_save`) keeps the backbone's dtype."""
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype != torch.float32:
            parameter.data = parameter.data.float()


def merge_lora_in_place(model) -> bool:
    """Fold the LoRA updates into the backbone's weights (peft's `merge_adapter`), same model object; returns
    whether it did. Done once training is over: the final evaluation and test pass then run on the weights
    `merge_lora` saves, rounding included, and faster (each adapter is a detour of two matmuls per linear
    layer: bench/RESULTS.md, speed (f)). A quantized backbone is left as it is, for `merge_lora`'s reason."""
    from peft import PeftModel
    from peft.tuners.tuners_utils import BaseTunerLayer

    if not isinstance(model, PeftModel) or is_quantized(model.get_base_model()):
        return False
    if not any(layer.merged for layer in model.modules() if isinstance(layer, BaseTunerLayer)):
        model.merge_adapter()
    return True


def merge_lora(model, adapter_dir: Path):
    """A LoRA model merged into plain weights, every weight in the dtype the backbone computes in.

    A quantized backbone is dequantized first and the saved adapter applied again: merging into 4-bit
    weights re-quantizes them, and the adapter's small update is mostly lost in the quantization step.
    """
    from peft import PeftModel

    dtype = model.config.dtype
    if is_quantized(model.get_base_model()):
        base = model.unload().dequantize()
        model = PeftModel.from_pretrained(base, adapter_dir)
    # merge_and_unload, not unload: since peft 0.22 `unload` puts back the head as it was before training (the
    # original module under peft's `modules_to_save` copy), `merge_and_unload` keeps the trained copy. It merges
    # only what is still unmerged (FSDP, DeepSpeed, 4/8-bit); after the final evaluation's `merge_lora_in_place`
    # that is nothing, which peft would announce in a warning that means no harm here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All adapters are already merged")
        merged = model.merge_and_unload()
    return merged.to(dtype) if isinstance(dtype, torch.dtype) else merged
