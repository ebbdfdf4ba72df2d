"""edgelstm: LSTM and BiLSTM text classifiers served from small ONNX files on plain CPUs.

The runtime needs only numpy and onnxruntime; training and export (``edgelstm.train``,
``edgelstm.export``) need the ``train`` extra (PyTorch and onnx).
"""

from .classifier import Classifier
from .config import ModelConfig
from .errors import DataError, EdgelstmError, InputError, ModelError
from .predictions import Prediction
from .tokenizer import Tokenizer

__version__ = "0.1.0"

__all__ = [
    "Classifier",
    "DataError",
    "EdgelstmError",
    "InputError",
    "ModelConfig",
    "ModelError",
    "Prediction",
    "Tokenizer",
    "__version__",
]
