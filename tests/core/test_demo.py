"""The main job (`make demo`) runs and writes its plot."""

from titans.core.demo import main, recall_errors


def test_demo_runs_and_writes_plot(tmp_path, capsys):
    main(["--output", str(tmp_path)])
    assert (tmp_path / "memorization.png").stat().st_size > 0
    assert "Exactness" in capsys.readouterr().out


def test_memory_learns_at_test_time():
    errors = recall_errors(depth=2, pairs=64, dim=32, passes=30, lr=0.1)
    assert errors[-1] < 0.4 * errors[0]
    matrix = recall_errors(depth=1, pairs=64, dim=32, passes=30, lr=0.1)
    assert errors[-1] < matrix[-1]  # more pairs than dimensions: only the deep memory keeps up
