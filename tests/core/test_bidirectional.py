"""`bidirectional=True`: every mixer reads each sequence both ways with the same weights, so the backbone sees the
whole sequence, commutes with reversal, ignores padding after a row's real tokens, and has no streaming state."""

import pytest
import torch

from titans.core import BACKBONES, build_backbone, surprise_tracks
from titans.core.backbones import reversal_index

SMALL = {"dim": 16, "depth": 2, "heads": 2, "window": 8, "chunk_size": 4, "persistent": 2}


def _bidirectional(name):
    torch.manual_seed(0)
    return build_backbone(name, **SMALL, bidirectional=True).double()


def test_reversal_index_reverses_the_real_tokens_and_is_its_own_inverse():
    index = reversal_index(torch.tensor([5, 3, 0]), 5)
    assert index.tolist() == [[4, 3, 2, 1, 0], [2, 1, 0, 3, 4], [0, 1, 2, 3, 4]]
    assert torch.equal(index.gather(1, index), torch.arange(5).expand(3, 5))


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_sees_the_whole_sequence_and_commutes_with_reversal(name):
    bb = _bidirectional(name)
    x = torch.randn(2, 30, 16, dtype=torch.float64)
    changed = x.clone()
    changed[:, 6:10] += torch.randn(2, 4, 16, dtype=torch.float64)  # within every window of the first tokens
    with torch.no_grad():
        h = bb(x)[0]
        assert not torch.allclose(h[:, :5], bb(changed)[0][:, :5])  # the first tokens see later ones
        # mixer(x) + R mixer(R x), with R the reversal: reversing the input reverses every layer's output
        torch.testing.assert_close(bb(x.flip(1))[0], h.flip(1), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["mag", "mal", "lmm", "mac", "transformer", "cnn", "gated-deltanet"])
def test_padding_after_the_real_tokens_changes_nothing_on_them(name):
    bb = _bidirectional(name)
    x = torch.randn(2, 20, 16, dtype=torch.float64)  # row 1: 13 real tokens, then 7 of padding (random values)
    with torch.no_grad():
        h = bb(x, lengths=torch.tensor([20, 13]))[0]
        torch.testing.assert_close(h[1:, :13], bb(x[1:, :13])[0], rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(h[:1], bb(x[:1])[0], rtol=1e-10, atol=1e-10)


def test_gradients_flow_both_ways_and_a_state_is_refused():
    bb = _bidirectional("mag")
    x = torch.randn(1, 12, 16, dtype=torch.float64, requires_grad=True)
    h, state = bb(x)
    h[0, 0].sum().backward()
    assert x.grad[0, -1].abs().sum() > 0  # the first output depends on the last input
    with pytest.raises(ValueError, match="'mag' is bidirectional: it reads whole sequences, with no state"):
        bb(x.detach(), state=state)


def test_surprise_of_a_bidirectional_backbone_averages_both_reading_directions():
    bb = _bidirectional("mag")
    x = torch.randn(2, 16, 16, dtype=torch.float64)
    tracks = surprise_tracks(bb, x)  # [B, T]
    assert tracks.shape == (2, 16) and (tracks > 0).all()
    torch.testing.assert_close(surprise_tracks(bb, x.flip(1)), tracks.flip(1), rtol=1e-8, atol=1e-10)
