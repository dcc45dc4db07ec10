"""Streaming perplexity: pieces with carried state score exactly what one pass scores, and a million
tokens stream through in constant memory without a NaN."""

import resource

import pytest
import torch
from torch.nn import functional as F

from titans.core import build_backbone
from titans.language import LanguageModel, streaming_loss


def _model(name: str, vocabulary: int = 11) -> LanguageModel:
    torch.manual_seed(0)
    backbone = build_backbone(name, dim=16, depth=1, heads=2, window=8, chunk_size=4, persistent=2)
    return LanguageModel(vocabulary, backbone).eval()


@pytest.mark.parametrize("name", ["mag", "mac", "swa", "gated-deltanet"])
def test_pieces_score_what_one_pass_scores(name):
    model = _model(name)
    tokens = torch.randint(0, 11, (1, 100))
    with torch.no_grad():
        logits, _ = model(tokens)
    whole = F.cross_entropy(logits[0, :-1], tokens[0, 1:]).item()
    for piece in (7, 32, 100):
        result = streaming_loss(model, tokens[0].tolist(), piece=piece)
        assert result.tokens == 99 and result.loss == pytest.approx(whole, rel=1e-5)


def test_too_little_text_is_refused():
    with pytest.raises(ValueError, match="at least two tokens"):
        streaming_loss(_model("swa"), [3], piece=4)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_million_tokens_in_constant_memory(dtype):
    model = _model("mag").to(dtype)
    generator = torch.Generator().manual_seed(0)

    def tokens(count):
        for _ in range(count // 4096):
            yield from torch.randint(0, 11, (4096,), generator=generator).tolist()

    streaming_loss(model, tokens(200_000), piece=4096)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = streaming_loss(model, tokens(1_048_576), piece=4096)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert result.tokens == 1_048_575 and torch.isfinite(torch.tensor(result.loss))
    assert grown_mb < 50, f"peak memory grew by {grown_mb:.0f} MB over a million tokens"
