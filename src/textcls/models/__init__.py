"""The model families, registered with the Auto classes.

Each family is one self-contained file (config + model) plus the shared files it imports
relatively, so `save_pretrained` can copy the code into a checkpoint for `trust_remote_code` users.
"""

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from .modeling_dpcnn import DPCNNConfig, DPCNNForSequenceClassification, DPCNNModel
from .modeling_fasttext import FastTextConfig, FastTextForSequenceClassification, FastTextModel
from .modeling_textcls_llama import LlamaForSequenceClassification, TextclsLlamaConfig, TextclsLlamaModel
from .modeling_textcnn import TextCNNConfig, TextCNNForSequenceClassification, TextCNNModel
from .modeling_textrnn import TextRNNConfig, TextRNNForSequenceClassification, TextRNNModel
from .sequence_classification import PROBLEM_TYPES, sequence_classification_loss
from .word_embedding import EMBEDDING_MODES

# model_type -> (config, base model, sequence classifier)
MODEL_FAMILIES = {
    "textcnn": (TextCNNConfig, TextCNNModel, TextCNNForSequenceClassification),
    "dpcnn": (DPCNNConfig, DPCNNModel, DPCNNForSequenceClassification),
    "textcls_llama": (TextclsLlamaConfig, TextclsLlamaModel, LlamaForSequenceClassification),
    "fasttext": (FastTextConfig, FastTextModel, FastTextForSequenceClassification),
    "textrnn": (TextRNNConfig, TextRNNModel, TextRNNForSequenceClassification),
}


def register_auto_classes() -> None:
    for model_type, (config_class, base_class, classifier_class) in MODEL_FAMILIES.items():
        AutoConfig.register(model_type, config_class, exist_ok=True)
        AutoModel.register(config_class, base_class, exist_ok=True)
        AutoModelForSequenceClassification.register(config_class, classifier_class, exist_ok=True)
        # Saved checkpoints carry the code and an `auto_map` for users without textcls.
        config_class.register_for_auto_class("AutoConfig")
        base_class.register_for_auto_class("AutoModel")
        classifier_class.register_for_auto_class("AutoModelForSequenceClassification")


register_auto_classes()

__all__ = [
    "DPCNNConfig",
    "DPCNNForSequenceClassification",
    "DPCNNModel",
    "EMBEDDING_MODES",
    "FastTextConfig",
    "FastTextForSequenceClassification",
    "FastTextModel",
    "LlamaForSequenceClassification",
    "MODEL_FAMILIES",
    "PROBLEM_TYPES",
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
