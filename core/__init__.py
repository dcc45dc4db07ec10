"""titans.core: the neural long-term memory (Titans, MIRAS) shared by every domain."""

from .backbones import BACKBONES, Backbone, BackboneConfig, build_backbone, list_backbones
from .config import MemoryConfig
from .neural_memory import NeuralMemory
from .presets import PRESETS, deltanet, gated_deltanet, linear_attention, memora, moneta, titans_lmm, yaad
from .state import MemoryInputs, MemoryState, detach_state
from .surprise import memory_surprise, surprise_tracks

__all__ = [
    "BACKBONES",
    "PRESETS",
    "Backbone",
    "BackboneConfig",
    "MemoryConfig",
    "MemoryInputs",
    "MemoryState",
    "NeuralMemory",
    "build_backbone",
    "deltanet",
    "detach_state",
    "gated_deltanet",
    "linear_attention",
    "list_backbones",
    "memora",
    "memory_surprise",
    "moneta",
    "surprise_tracks",
    "titans_lmm",
    "yaad",
]
