"""textcls: Hugging Face-compatible text classification.

Importing the package registers every family of `textcls.families` (TextCNN, DPCNN, our Llama
classifier, ...) with `AutoConfig`, `AutoModel` and `AutoModelForSequenceClassification`.
"""

from .errors import CheckpointError, DataError, TextclsError
from .families import FAMILIES, Family, get_family
from .models import (
    DPCNNConfig,
    DPCNNForSequenceClassification,
    DPCNNModel,
    FastTextConfig,
    FastTextForSequenceClassification,
    FastTextModel,
    LlamaForSequenceClassification,
    TextclsLlamaConfig,
    TextclsLlamaModel,
    TextCNNConfig,
    TextCNNForSequenceClassification,
    TextCNNModel,
    TextRNNConfig,
    TextRNNForSequenceClassification,
    TextRNNModel,
)
from .tokenization import train_word_tokenizer

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "DPCNNConfig",
    "DPCNNForSequenceClassification",
    "DPCNNModel",
    "DataError",
    "FAMILIES",
    "Family",
    "FastTextConfig",
    "FastTextForSequenceClassification",
    "FastTextModel",
    "LlamaForSequenceClassification",
    "TextCNNConfig",
    "TextCNNForSequenceClassification",
    "TextCNNModel",
    "TextRNNConfig",
    "TextRNNForSequenceClassification",
    "TextRNNModel",
    "TextclsError",
    "TextclsLlamaConfig",
    "TextclsLlamaModel",
    "get_family",
    "train_word_tokenizer",
]
