"""textcls: Hugging Face-compatible text classification.

Importing the package registers TextCNN, DPCNN, fastText, TextRNN and our Llama classifier with `AutoConfig`,
`AutoModel` and `AutoModelForSequenceClassification`.
"""

from .errors import CheckpointError, DataError, TextclsError
from .models import (
    DPCNNConfig,
    DPCNNForSequenceClassification,
    DPCNNModel,
    FastTextConfig,
    FastTextForSequenceClassification,
    FastTextModel,
    LlamaForSequenceClassification,
    TextCNNConfig,
    TextCNNForSequenceClassification,
    TextCNNModel,
    TextRNNConfig,
    TextRNNForSequenceClassification,
    TextRNNModel,
    TextclsLlamaConfig,
    TextclsLlamaModel,
)
from .tokenization import train_word_tokenizer

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "DPCNNConfig",
    "DPCNNForSequenceClassification",
    "DPCNNModel",
    "DataError",
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
    "train_word_tokenizer",
]
