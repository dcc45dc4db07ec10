"""Language modelling: tokenizers, text reading, sampling, streaming generation, the demo pipeline."""

import gzip
import json

import pytest
import torch
from typer.testing import CliRunner

from titans.core import build_backbone
from titans.language import ByteTokenizer, CharacterTokenizer, LanguageModel, generate, read_text, sample
from titans.pipelines import InputError, Pipeline, SpecError
from titans.pipelines.cli import app


def test_tokenizers_round_trip():
    assert ByteTokenizer().decode(ByteTokenizer().encode("héllo ✓")) == "héllo ✓"
    characters = CharacterTokenizer.from_corpus("abcab")
    assert characters.decode(characters.encode("cab")) == "cab" and characters.size == 4
    assert characters.encode("z") == [0]  # unseen characters are the unknown symbol


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00junk", "not UTF-8"),
        (b"   \n", "no text"),
        (gzip.compress(b"x" * 1000, mtime=0)[:20], "cannot read"),
    ],
)
def test_bad_text_files(tmp_path, content, message):
    path = tmp_path / ("t.txt.gz" if message == "cannot read" else "t.txt")
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_text(path)


def test_sampling_rules():
    logits = torch.tensor([[0.1, 3.0, 0.2, 2.9]])
    generator = torch.Generator().manual_seed(0)
    assert sample(logits, 0.0, None, None, generator).item() == 1
    assert all(sample(logits, 1.0, 1, None, generator).item() == 1 for _ in range(20))
    assert {sample(logits, 1.0, 2, None, generator).item() for _ in range(50)} == {1, 3}
    assert all(sample(logits, 1.0, None, 0.1, generator).item() == 1 for _ in range(20))


@pytest.mark.parametrize("name", ["mag", "mac", "swa", "gated-deltanet"])
def test_streaming_generation_equals_recomputing_from_scratch(name):
    torch.manual_seed(0)
    model = LanguageModel(20, build_backbone(name, dim=16, depth=1, heads=2, window=8, chunk_size=4)).eval()
    prompt = [3, 5, 7, 1, 2]
    streamed = generate(model, prompt, 12, temperature=0)
    tokens = list(prompt)
    with torch.no_grad():
        for _ in range(12):
            tokens.append(int(model(torch.tensor([tokens]))[0][0, -1].argmax()))
    assert streamed == tokens[len(prompt) :]


def test_language_demo_trains_samples_and_generates(tmp_path):
    overrides = ["model.backbone.dim=32", "model.backbone.depth=1", "data.sentences=1500", "train.warmup_steps=5",
                 f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    result = Pipeline.from_yaml("language-demo", overrides).run()
    metrics = json.loads((result.output_dir / "metrics.json").read_text())
    assert metrics["val/perplexity"] == pytest.approx(2.718281828 ** metrics["val/loss"], rel=1e-4)
    assert metrics["val/loss"] < 2.8  # from log(vocabulary) = 3.3 at the start
    assert (result.output_dir / "predictions" / "samples.txt").read_text().strip()
    generated = CliRunner().invoke(
        app, ["generate", str(result.checkpoint), "--prompt", "The cat", "--max-tokens", "30"]
    )
    assert generated.exit_code == 0, generated.output
    assert generated.stdout.startswith("The cat") and len(generated.stdout.strip()) >= 30
    text = tmp_path / "held_out.txt"
    text.write_text("The cat sat on the mat. " * 50)
    scored = CliRunner().invoke(app, ["perplexity", str(result.checkpoint), "-i", str(text), "--piece", "100"])
    assert scored.exit_code == 0, scored.output
    assert "1,199 tokens: loss" in scored.stdout and "perplexity" in scored.stdout


def test_niah_reports_recall_by_length(tmp_path):
    overrides = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.window=16", "data.train_length=96",
                 "data.eval_lengths=[96, 192]", "data.train_examples=64", "data.eval_examples=8", "train.max_epochs=1",
                 f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    result = Pipeline.from_yaml("niah", overrides).run()
    assert {"val/recall", "test/recall", "test/recall@96", "test/recall@192"} <= set(result.metrics)
    assert all(0 <= result.metrics[key] <= 100 for key in ("test/recall@96", "test/recall@192"))
    assert (result.output_dir / "plots" / "recall_by_length.png").is_file()


def test_a_language_model_refuses_a_bidirectional_backbone():
    backbone = build_backbone("mag", dim=16, depth=1, heads=2, window=8, bidirectional=True)
    with pytest.raises(SpecError, match=r"model\.backbone\.bidirectional=true: a language model predicts"):
        LanguageModel(10, backbone)
