"""titans.core: the neural long-term memory (Titans, MIRAS) shared by every domain."""

from .config import MemoryConfig
from .neural_memory import NeuralMemory
from .presets import PRESETS, deltanet, gated_deltanet, linear_attention, memora, moneta, titans_lmm, yaad
from .state import MemoryInputs, MemoryState

__all__ = [
    "PRESETS",
    "MemoryConfig",
    "MemoryInputs",
    "MemoryState",
    "NeuralMemory",
    "deltanet",
    "gated_deltanet",
    "linear_attention",
    "memora",
    "moneta",
    "titans_lmm",
    "yaad",
]
