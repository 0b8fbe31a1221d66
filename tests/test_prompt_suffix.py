"""`--prompt_suffix` (textcls.prompt_suffix): every input ends with it, through the saved tokenizer.
Through the recipe on a tiny Llama: tests/test_llama_options.py."""

import json

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from textcls.errors import TextclsError
from textcls.prompt_suffix import SUFFIX_PIECE, prompt_suffix_of, set_prompt_suffix

WORDS = ["[PAD]", "[UNK]", "<s>", "this", "text", "is", "about", "a", "b", "c", "d", "e", "f", "g", "topic"]


def word_tokenizer(post_processor=None) -> PreTrainedTokenizerFast:
    """Whitespace words, one id each; `post_processor` as a checkpoint's tokenizer.json might have it."""
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if post_processor is not None:
        backend.post_processor = post_processor
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]")


def ids(*words):
    return [WORDS.index(w) for w in words]


BOS_TEMPLATE = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B:1", special_tokens=[("<s>", 2)])


@pytest.mark.parametrize(
    "post_processor, prefix",
    [
        (None, []),  # a word tokenizer: no post-processor
        (BOS_TEMPLATE, ["<s>"]),  # a begin-of-text template (Llama 3 style)
        (processors.Sequence([processors.ByteLevel(trim_offsets=False), BOS_TEMPLATE]), ["<s>"]),
        (processors.ByteLevel(trim_offsets=False), []),  # no template to extend: one is added after it
    ],
    ids=["none", "template", "sequence", "byte-level"],
)
def test_every_input_ends_with_the_suffix_after_the_tokenizers_own_tokens(post_processor, prefix):
    tokenizer = word_tokenizer(post_processor)
    set_prompt_suffix(tokenizer, "this text is about", max_length=16)
    assert tokenizer("a b c")["input_ids"] == ids(*prefix, "a", "b", "c", "this", "text", "is", "about")
    assert tokenizer.num_special_tokens_to_add() == len(prefix) + 4


def test_truncation_cuts_the_text_and_every_window_ends_with_the_suffix():
    tokenizer = word_tokenizer()
    set_prompt_suffix(tokenizer, "topic", max_length=4)
    assert tokenizer("a b c d e", truncation=True, max_length=4)["input_ids"] == ids("a", "b", "c", "topic")
    windows = tokenizer("a b c d e f g", truncation=True, max_length=4, stride=1, return_overflowing_tokens=True)
    assert windows["input_ids"] == [ids("a", "b", "c", "topic"), ids("c", "d", "e", "topic"), ids("e", "f", "g", "topic")]


def test_setting_a_suffix_again_replaces_it_and_an_empty_one_removes_it():
    tokenizer = word_tokenizer(BOS_TEMPLATE)
    set_prompt_suffix(tokenizer, "topic", max_length=16)
    set_prompt_suffix(tokenizer, "is about", max_length=16)
    assert tokenizer("a")["input_ids"] == ids("<s>", "a", "is", "about")
    set_prompt_suffix(tokenizer, "", max_length=16)
    assert tokenizer("a")["input_ids"] == ids("<s>", "a")
    post = json.loads(tokenizer.backend_tokenizer.to_str())["post_processor"]
    assert SUFFIX_PIECE not in json.dumps(post)


def test_the_suffix_survives_save_and_autotokenizer(tmp_path):
    tokenizer = word_tokenizer(BOS_TEMPLATE)
    set_prompt_suffix(tokenizer, "this text is about", max_length=16)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert prompt_suffix_of(reloaded) == "this text is about" and prompt_suffix_of(word_tokenizer(BOS_TEMPLATE)) == ""
    assert reloaded(["a b", "c"])["input_ids"] == tokenizer(["a b", "c"])["input_ids"]
    assert reloaded("a b")["input_ids"][-4:] == ids("this", "text", "is", "about")


def test_the_room_check_counts_the_new_suffix_not_the_one_it_replaces():
    tokenizer = word_tokenizer(BOS_TEMPLATE)
    set_prompt_suffix(tokenizer, "this text is", max_length=5)  # <s> + 3 suffix tokens: one left for text
    set_prompt_suffix(tokenizer, "is about topic", max_length=5)
    assert tokenizer("a b", truncation=True, max_length=5)["input_ids"] == ids("<s>", "a", "is", "about", "topic")


def test_a_suffix_that_fills_the_window_is_one_clear_error():
    tokenizer = word_tokenizer(BOS_TEMPLATE)
    with pytest.raises(TextclsError, match=r"--prompt_suffix is 4 tokens \(and the tokenizer adds 1 of its own\), which "
                                           r"leaves no room for the text in --max_seq_length 5: shorten the suffix or "
                                           r"raise --max_seq_length\."):
        set_prompt_suffix(tokenizer, "this text is about", max_length=5)
    assert tokenizer("a")["input_ids"] == ids("<s>", "a")  # unchanged


def test_a_suffix_of_no_tokens_is_one_clear_error():
    with pytest.raises(TextclsError, match=r"--prompt_suffix '  ' is no tokens for this tokenizer: give words, or '' for none\."):
        set_prompt_suffix(word_tokenizer(), "  ", max_length=16)
