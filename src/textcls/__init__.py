"""textcls: Hugging Face-compatible text classification.

Importing the package registers TextCNN, DPCNN and our Llama classifier with `AutoConfig`,
`AutoModel` and `AutoModelForSequenceClassification`.
"""

from .errors import CheckpointError, DataError, TextclsError
from .models import (
    DPCNNConfig,
    DPCNNForSequenceClassification,
    DPCNNModel,
    LlamaForSequenceClassification,
    TextCNNConfig,
    TextCNNForSequenceClassification,
    TextCNNModel,
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
    "LlamaForSequenceClassification",
    "TextCNNConfig",
    "TextCNNForSequenceClassification",
    "TextCNNModel",
    "TextclsError",
    "TextclsLlamaConfig",
    "TextclsLlamaModel",
    "train_word_tokenizer",
]
