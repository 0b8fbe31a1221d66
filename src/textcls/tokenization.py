"""Word- or character-level tokenizers for the word-embedding families, trained with the `tokenizers` library.

The result is a plain `PreTrainedTokenizerFast`: `save_pretrained` writes a `tokenizer.json` that
`AutoTokenizer.from_pretrained` reads back with no textcls code.
"""

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from .errors import TextclsError

PAD_TOKEN = "[PAD]"  # id 0: the CNN configs' pad_token_id
UNK_TOKEN = "[UNK]"  # id 1
TOKENIZER_LEVELS = ("word", "char")
TOKEN_NAMES = {"word": "words", "char": "characters"}


def train_word_tokenizer(
    texts: Iterable[str],
    lowercase: bool = True,
    min_frequency: int = 1,
    max_vocab_size: int | None = None,
    model_max_length: int = 512,
    level: str = "word",
) -> PreTrainedTokenizerFast:
    """Learn a word (or, with `level="char"`, character) vocabulary from `texts`.

    Normalisation is BERT's (Unicode clean-up, optional lower-casing, a space around every CJK
    character so that Chinese text splits into characters); words are then split on whitespace and
    punctuation. At the character level every character is a token, a run of whitespace one space
    token. Tokens seen fewer than `min_frequency` times, or beyond the `max_vocab_size` most
    frequent, map to `[UNK]`.
    """
    if level not in TOKENIZER_LEVELS:
        raise TextclsError(f"level must be one of {', '.join(TOKENIZER_LEVELS)}; got {level!r}.")
    if min_frequency < 1:
        raise TextclsError(f"min_frequency must be >= 1, got {min_frequency}.")
    if max_vocab_size is not None and max_vocab_size < 3:
        raise TextclsError(f"max_vocab_size must leave room for [PAD], [UNK] and a word; got {max_vocab_size}.")
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
    if level == "word":
        tokenizer.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=lowercase
        )
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    else:
        tokenizer.normalizer = normalizers.Sequence(
            [
                normalizers.BertNormalizer(
                    clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=lowercase
                ),
                normalizers.Replace(Regex(r"\s+"), " "),
                normalizers.Strip(),
            ]
        )
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    trainer = trainers.WordLevelTrainer(
        vocab_size=max_vocab_size or 2**31 - 1,
        min_frequency=min_frequency,
        special_tokens=[PAD_TOKEN, UNK_TOKEN],
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    if tokenizer.get_vocab_size() <= 2:
        raise TextclsError(
            f"The tokenizer learned no {TOKEN_NAMES[level]}: the training texts are empty or all below min_frequency."
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        model_max_length=model_max_length,
        padding_side="right",
        model_input_names=["input_ids", "attention_mask"],
    )
