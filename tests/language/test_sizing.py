"""Sizing language models to a parameter count (`width_for_parameters`), so that backbones are compared at
equal size: every backbone's chosen width is valid and its count the closest to the target."""

import pytest

from titans.core import build_backbone, list_backbones
from titans.language.model import LanguageModel, parameter_count, width_for_parameters

VOCABULARY = 41
NIAH = {"depth": 1, "heads": 2, "window": 16, "chunk_size": 4, "memory": {"memory_depth": 1, "max_lr": 0.5}}
SHAKESPEARE = {"depth": 4, "heads": 4, "window": 64, "chunk_size": 16}
TOLERANCE = 0.10


def test_parameter_count_is_embedding_once_plus_backbone():
    backbone = build_backbone("mag", dim=32, **NIAH)
    model = LanguageModel(VOCABULARY, backbone)
    counted = sum(p.numel() for p in model.parameters())
    assert parameter_count("mag", VOCABULARY, dim=32, **NIAH) == counted
    assert counted == backbone.num_parameters + VOCABULARY * 32  # the tied output head adds nothing


@pytest.mark.parametrize(("config", "reference"), [(NIAH, ("mag", 32)), (SHAKESPEARE, ("transformer", 128))])
@pytest.mark.parametrize("name", list(list_backbones()))
def test_every_backbone_is_sized_to_the_closest_valid_width(name, config, reference):
    target = parameter_count(reference[0], VOCABULARY, dim=reference[1], **config)
    width = width_for_parameters(name, target, VOCABULARY, **config)
    heads = config["heads"]
    assert width % heads == 0
    count = parameter_count(name, VOCABULARY, dim=width, **config)
    assert abs(count - target) <= TOLERANCE * target, (width, count, target)
    neighbours = [w for w in (width - heads, width + heads) if w > 0]
    assert all(abs(parameter_count(name, VOCABULARY, dim=w, **config) - target) >= abs(count - target)
               for w in neighbours)  # fmt: skip
    if name == reference[0]:
        assert width == reference[1]  # sized to its own count, the reference keeps its width


def test_width_for_parameters_refuses_a_fixed_width_and_an_empty_target():
    with pytest.raises(ValueError, match="leave it out"):
        width_for_parameters("mag", 10_000, VOCABULARY, dim=32)
    with pytest.raises(ValueError, match="target=0"):
        width_for_parameters("mag", 0, VOCABULARY)
