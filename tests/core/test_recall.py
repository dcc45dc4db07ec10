"""The core claim, small: with attention window w, a memory backbone recalls key-value pairs placed more
than w tokens back, which sliding-window attention of the same size cannot see."""

import pytest
import torch
import torch.nn.functional as F

from titans.core import build_backbone

KEYS, VALUES, FILLERS, PAIRS, GAP, WINDOW = 16, 16, 4, 4, 12, 8


def _recall_batch(size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """[k1 v1 ... k4 v4] + 12 filler tokens + [k_j]; the answer is v_j, 13 or more tokens back."""
    keys = torch.stack([torch.randperm(KEYS, generator=generator)[:PAIRS] for _ in range(size)])
    values = torch.randint(KEYS, KEYS + VALUES, (size, PAIRS), generator=generator)
    fillers = torch.randint(KEYS + VALUES, KEYS + VALUES + FILLERS, (size, GAP), generator=generator)
    asked = torch.randint(0, PAIRS, (size, 1), generator=generator)
    tokens = torch.cat([torch.stack([keys, values], -1).flatten(1), fillers, keys.gather(1, asked)], dim=1)
    return tokens, values.gather(1, asked)[:, 0] - KEYS


def _recall_accuracy(name: str, steps: int, memory_depth: int = 2, seed: int = 0) -> float:
    torch.manual_seed(seed)
    embed = torch.nn.Embedding(KEYS + VALUES + FILLERS, 32)
    backbone = build_backbone(name, dim=32, depth=1, heads=2, window=WINDOW, chunk_size=4, persistent=2,
                              memory={"max_lr": 0.5, "memory_depth": memory_depth})  # fmt: skip
    head = torch.nn.Linear(32, VALUES)
    params = [*embed.parameters(), *backbone.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=3e-3)
    generator = torch.Generator().manual_seed(seed)

    def predict(tokens):
        return head(backbone(embed(tokens))[0][:, -1])

    for _ in range(steps):
        tokens, answer = _recall_batch(64, generator)
        loss = F.cross_entropy(predict(tokens), answer)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        tokens, answer = _recall_batch(1000, torch.Generator().manual_seed(1))
        return (predict(tokens).argmax(-1) == answer).float().mean().item()


SWA_CEILING = 0.12  # chance is 1 / 16: the pairs are out of sliding-window attention's sight


def test_memory_recalls_beyond_the_window_where_swa_cannot():
    assert _recall_accuracy("swa", 400) < SWA_CEILING
    # A matrix memory learns it fully: 97-100% after 400 steps in each of seeds 0-6.
    assert _recall_accuracy("mag", 400, memory_depth=1) > 0.8


@pytest.mark.slow
def test_mlp_memory_recalls_beyond_the_window_on_average_over_seeds():
    # The default 2-layer MLP memory learns it more slowly, and when depends on the seed and on float
    # rounding: after 600 steps, seeds 0-5 reached 99, 27, 95, 16, 98 and 88%. One seed is a coin toss
    # (seed 0 at 400 steps gave 91%, and 12% after a change of rounding only); the mean of three is not.
    mean = sum(_recall_accuracy("mag", 600, seed=seed) for seed in range(3)) / 3
    assert mean > SWA_CEILING + 0.2


def test_mac_recalls_through_its_retrieved_context():
    # The answer travels memory -> h -> attention -> output: about 99% after 800 steps with a matrix memory
    # (chance 1 / 16; 25-31% without the residual write or the memory marker, see core/mac.py).
    assert _recall_accuracy("mac", 800, memory_depth=1) > 0.8
