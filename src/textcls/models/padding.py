"""Padding helpers shared by the families that need each text's real tokens at the front.

Copied next to the model code when a checkpoint is saved: torch only.
"""

import torch


def real_tokens_first(attention_mask: torch.Tensor) -> torch.Tensor:
    """`[batch, seq_len]` positions that put each row's real tokens first, in their order, then its padding."""
    return torch.sort((attention_mask == 0).to(torch.int8), dim=1, stable=True).indices


def left_align(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each row's real tokens to the front (order kept), so left padding becomes right padding."""
    order = real_tokens_first(attention_mask)
    return input_ids.gather(1, order), attention_mask.gather(1, order)
