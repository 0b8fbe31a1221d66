import os

# No test may reach the network (house rule 7); set before transformers/datasets are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

import textcls  # noqa: E402

LLAMA_TINY = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)


# Tiny settings per family (the family's own classes come from the registry, textcls.FAMILIES).
TINY_CONFIGS = {
    "textcnn": dict(vocab_size=40, embedding_dim=8, num_filters=6, kernel_sizes=[2, 3, 5]),
    "dpcnn": dict(vocab_size=40, embedding_dim=8, num_filters=6, num_blocks=4),
    "fasttext": dict(vocab_size=40, embedding_dim=8, ngram=3, num_buckets=50, hidden_size=5),
    "textrnn": dict(vocab_size=40, embedding_dim=8, hidden_size=6, num_layers=2, pooling="attention"),
    "llama": LLAMA_TINY,
}


def error_line(argv, capsys) -> str:
    """Run the CLI on bad input: exit 2, one `textcls: error:` line (other stderr, e.g. datasets' progress,
    aside), no traceback; returns the message after the prefix."""
    from textcls.cli import main as cli_main

    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("textcls: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0].removeprefix("textcls: error: ")


def tiny_config(family: str, **overrides):
    """A tiny random config of one family; `overrides` win."""
    return textcls.get_family(family).config_class(**{**TINY_CONFIGS[family], **overrides})


def tiny_model(family: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return textcls.get_family(family).classifier_class(tiny_config(family, **overrides)).eval()


FAMILIES = list(TINY_CONFIGS)


@pytest.fixture(params=FAMILIES)
def family(request):
    return request.param


def right_padded_batch(lengths, vocab_size=40, seed=0, pad_token_id=0):
    """Random token ids (never pad, bos or eos) right-padded to max(lengths), and their mask."""
    generator = torch.Generator().manual_seed(seed)
    seq_len = max(lengths)
    input_ids = torch.randint(3, vocab_size, (len(lengths), seq_len), generator=generator)
    attention_mask = torch.zeros_like(input_ids)
    for row, length in enumerate(lengths):
        attention_mask[row, :length] = 1
    input_ids = input_ids.masked_fill(attention_mask == 0, pad_token_id)
    return input_ids, attention_mask


def left_pad(input_ids, attention_mask, pad_token_id=0):
    """The same texts as a right-padded batch, left-padded instead."""
    left_ids = torch.full_like(input_ids, pad_token_id)
    left_mask = torch.zeros_like(attention_mask)
    seq_len = input_ids.shape[1]
    for row, length in enumerate(attention_mask.sum(-1).tolist()):
        left_ids[row, seq_len - length :] = input_ids[row, :length]
        left_mask[row, seq_len - length :] = 1
    return left_ids, left_mask
