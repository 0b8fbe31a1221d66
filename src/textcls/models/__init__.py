"""The model families' classes.

Each family is one self-contained file (config + model) plus the shared files it imports
relatively, so `save_pretrained` can copy the code into a checkpoint for `trust_remote_code` users.
What the rest of textcls knows about a family (and the Auto-class registration) is in
`textcls.families`.
"""

from .modeling_dpcnn import DPCNNConfig, DPCNNForSequenceClassification, DPCNNModel
from .modeling_fasttext import (
    FastTextConfig,
    FastTextForSequenceClassification,
    FastTextModel,
)
from .modeling_textcls_llama import (
    LlamaForSequenceClassification,
    TextclsLlamaConfig,
    TextclsLlamaModel,
)
from .modeling_textcnn import (
    TextCNNConfig,
    TextCNNForSequenceClassification,
    TextCNNModel,
)
from .modeling_textrnn import (
    TextRNNConfig,
    TextRNNForSequenceClassification,
    TextRNNModel,
)
from .sequence_classification import (
    MULTI_LABEL,
    PROBLEM_TYPES,
    REGRESSION,
    SINGLE_LABEL,
    sequence_classification_loss,
)
from .word_embedding import EMBEDDING_MODES

__all__ = [
    "DPCNNConfig",
    "DPCNNForSequenceClassification",
    "DPCNNModel",
    "EMBEDDING_MODES",
    "FastTextConfig",
    "FastTextForSequenceClassification",
    "FastTextModel",
    "LlamaForSequenceClassification",
    "MULTI_LABEL",
    "PROBLEM_TYPES",
    "REGRESSION",
    "SINGLE_LABEL",
    "TextCNNConfig",
    "TextCNNForSequenceClassification",
    "TextCNNModel",
    "TextRNNConfig",
    "TextRNNForSequenceClassification",
    "TextRNNModel",
    "TextclsLlamaConfig",
    "TextclsLlamaModel",
    "sequence_classification_loss",
]
