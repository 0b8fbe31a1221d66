"""`--prompt_suffix`: words appended to every input of a decoder classifier, in its saved tokenizer.

A decoder's classifier pools the state of the last token (models/modeling_textcls_llama.py). Pretrained,
that state holds what predicts the next word, not what the text is about; ending every input with a
prompt such as "The topic of this post is" makes the next word the class, and so puts the class into
the pooled state before any fine-tuning (bench/notes.md, "Session 32").

The suffix is a piece of the fast tokenizer's post-processor template (tokenizers' `TemplateProcessing`,
the same mechanism that adds BERT's [SEP] or Llama 3's begin-of-text token), so it is in the saved
`tokenizer.json`: `AutoTokenizer`, `pipeline`, `textcls evaluate` / `predict` and every window of
`--long_text chunk` end each input with it, and truncation keeps it (the text is cut instead).
"""

from __future__ import annotations

import json

from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerBase

from .errors import TextclsError

# The template piece's name in tokenizer.json; replaced, not stacked, when a suffix is set again.
SUFFIX_PIECE = "textcls_prompt_suffix"


def _template_of(post_processor: dict | None) -> dict | None:
    """The TemplateProcessing inside a post-processor (itself, or a member of a Sequence), if any."""
    if post_processor is None:
        return None
    if post_processor["type"] == "TemplateProcessing":
        return post_processor
    if post_processor["type"] == "Sequence":
        return next((p for p in post_processor["processors"] if p["type"] == "TemplateProcessing"), None)
    return None


def _without_suffix(pieces: list[dict]) -> list[dict]:
    return [p for p in pieces if p.get("SpecialToken", {}).get("id") != SUFFIX_PIECE]


def set_prompt_suffix(tokenizer: PreTrainedTokenizerBase, suffix: str, max_length: int) -> None:
    """End every encoded input with `suffix` (none if empty), in place, leaving room for text in max_length."""
    if not tokenizer.is_fast:
        raise TextclsError(
            f"--prompt_suffix needs a fast tokenizer (tokenizer.json); {type(tokenizer).__name__} is a slow one."
        )
    ids = tokenizer(suffix, add_special_tokens=False)["input_ids"] if suffix else []
    if suffix and not ids:
        raise TextclsError(f"--prompt_suffix {suffix!r} is no tokens for this tokenizer: give words, or '' for none.")
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    post_processor = state["post_processor"]
    template = _template_of(post_processor)
    if template is None:
        # No template to extend (none, or only ByteLevel's offset trimming): add one after it.
        template = dict(
            type="TemplateProcessing",
            single=[{"Sequence": {"id": "A", "type_id": 0}}],
            pair=[{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            special_tokens={},
        )
        state["post_processor"] = (
            template if post_processor is None else dict(type="Sequence", processors=[post_processor, template])
        )
    template["special_tokens"].pop(SUFFIX_PIECE, None)
    for form in ("single", "pair"):
        pieces = _without_suffix(template[form])
        if ids:  # after everything else, as the last segment's type
            type_id = next(iter(pieces[-1].values()))["type_id"]
            pieces.append({"SpecialToken": {"id": SUFFIX_PIECE, "type_id": type_id}})
        template[form] = pieces
    if ids:
        tokens = tokenizer.convert_ids_to_tokens(ids)
        template["special_tokens"][SUFFIX_PIECE] = dict(id=SUFFIX_PIECE, ids=ids, tokens=tokens)
    # The whole tokenizer is parsed to build the processor (tokenizers has no other way from JSON): seconds at most.
    post_processor = Tokenizer.from_str(json.dumps(state)).post_processor
    added = post_processor.num_special_tokens_to_add(False)
    if added >= max_length:
        own = f" (and the tokenizer adds {added - len(ids)} of its own)" if added > len(ids) else ""
        raise TextclsError(
            f"--prompt_suffix is {len(ids)} tokens{own}, which leaves no room for the text in --max_seq_length "
            f"{max_length}: shorten the suffix or raise --max_seq_length."
        )
    tokenizer.backend_tokenizer.post_processor = post_processor


def prompt_suffix_of(tokenizer: PreTrainedTokenizerBase) -> str:
    """The suffix that ends the tokenizer's inputs ("" if none), as text."""
    if not tokenizer.is_fast:
        return ""
    template = _template_of(json.loads(tokenizer.backend_tokenizer.to_str())["post_processor"])
    piece = template["special_tokens"].get(SUFFIX_PIECE) if template else None
    return tokenizer.decode(piece["ids"]) if piece else ""
