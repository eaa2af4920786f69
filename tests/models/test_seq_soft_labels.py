"""``seq:`` and ``multi:seq:`` trained towards annotators' vote shares (``soft_labels``), on
the tiny random BERT (milliseconds per step): what the target changes, that it is saved,
and the bad input it refuses."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.errors import ConfigError, DataError

#: Two of three annotators for the chosen reply: the target probability is 2/3.
SPLIT = (1, 1, 2)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> str:
    from tiny_models import tiny_bert

    return str(tiny_bert(tmp_path_factory.mktemp("tiny") / "bert"))


@pytest.fixture
def tiny(tiny_dir):
    from tiny_models import one_thread

    with one_thread():
        yield tiny_dir


def _spec(tiny: str, **options) -> str:
    settings = {"max_length": 32, "batch_size": 4, "epochs": 1, "lr": 1e-3, **options}
    return f"seq:{tiny}?" + "&".join(f"{k}={v}" for k, v in settings.items())


def _voted(data, votes=SPLIT):
    return replace(data, records=tuple(replace(r, votes=votes) for r in data.records))


def _rows(data, votes=SPLIT):
    return [{"prompt": r.prompt if isinstance(r.prompt, str) else
             [{"role": m.role, "content": m.content} for m in r.prompt],
             "chosen": r.chosen, "rejected": r.rejected, "votes": list(votes)}
            for r in data.records]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _p_chosen(model, data) -> np.ndarray:
    p = [r.prompt for r in data.records]
    r = model.score(p + p, [r.chosen for r in data.records] + [r.rejected for r in data.records])
    n = len(data)
    return 1 / (1 + np.exp(-(r[:n] - r[n:])))


def test_soft_labels_stop_at_the_vote_share_where_hard_labels_do_not(tiny, hh_small):
    """Every pair split 2:1, trained long enough to fit its 16 pairs: hard labels push
    P(chosen) towards 1, the soft target holds it near 2/3."""
    data = _voted(hh_small[0].take(range(16)))
    hard = resolve(_spec(tiny, epochs=15, lr=3e-3)).fit(data)
    soft = resolve(_spec(tiny, epochs=15, lr=3e-3, soft_labels="true")).fit(data)
    p_hard, p_soft = _p_chosen(hard, data).mean(), _p_chosen(soft, data).mean()
    assert p_hard > 0.9
    assert abs(p_soft - 2 / 3) < 0.1, p_soft
    # the loss it logged is the cross-entropy against 2/3, which cannot go below its entropy
    entropy = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))
    assert soft.history_[-1]["loss"] > entropy - 1e-3 > hard.history_[-1]["loss"]


def test_unanimous_votes_train_as_hard_labels(tiny, hh_small):
    """A share of 1 is the hard label: the same weights, to float rounding."""
    data = hh_small[0].take(range(8))
    hard = resolve(_spec(tiny)).fit(data)
    soft = resolve(_spec(tiny, soft_labels="true")).fit(_voted(data, (2, 2, 2)))
    np.testing.assert_allclose(_p_chosen(hard, data), _p_chosen(soft, data), atol=1e-5)


def test_the_option_is_saved_and_the_checkpoint_stays_plain_transformers(tiny, hh_small,
                                                                         tmp_path):
    from transformers import AutoModelForSequenceClassification

    data = _voted(hh_small[0].take(range(8)))
    model = resolve(_spec(tiny, soft_labels="true")).fit(data)
    model.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "rewardlab.json").read_text())
    assert manifest["config"]["soft_labels"] is True
    loaded = resolve(str(tmp_path / "m"))
    assert loaded.config.soft_labels is True
    np.testing.assert_allclose(_p_chosen(loaded, data), _p_chosen(model, data), atol=1e-6)
    net = AutoModelForSequenceClassification.from_pretrained(tmp_path / "m")
    assert net.config.num_labels == 1


def test_missing_or_unequal_votes_name_the_file_line_and_field(tiny, hh_small):
    data = hh_small[0].take(range(8))
    records = [replace(r, votes=SPLIT) for r in data.records]
    records[5] = replace(records[5], votes=None)
    with pytest.raises(DataError, match=r":\d+.*votes.*no annotator votes") as missing:
        resolve(_spec(tiny, soft_labels="true")).fit(replace(data, records=tuple(records)))
    assert f"{data.source}:{records[5].line}" in str(missing.value)
    records[5] = replace(records[5], votes=(1, 1))
    with pytest.raises(DataError, match="has 2 votes but the first pair has 3"):
        resolve(_spec(tiny, soft_labels="true")).fit(replace(data, records=tuple(records)))


@pytest.mark.parametrize("option", ["loss=hinge", "loss=margin", "loss=label-smoothing",
                                    "flip_rate=0.1"])
def test_soft_labels_refuse_losses_that_would_ignore_them(tiny, option):
    with pytest.raises(ConfigError, match="soft_labels"):
        resolve(_spec(tiny, soft_labels="true") + "&" + option)


def test_cli_soft_labels_on_seq_and_its_bad_input(run_cli, tiny, hh_small, tmp_path):
    rows = _rows(hh_small[0].take(range(8)))
    good = _write(tmp_path / "v.jsonl", rows)
    res = run_cli("train", good, "--model", _spec(tiny), "--soft-labels", "--out",
                  tmp_path / "m")
    assert res.code == 0, res.err
    assert json.loads((tmp_path / "m" / "rewardlab.json").read_text()
                      )["config"]["soft_labels"] is True
    rows[3]["votes"] = [1, 2]
    res = run_cli("train", _write(tmp_path / "w.jsonl", rows), "--model", _spec(tiny),
                  "--soft-labels", "--out", tmp_path / "m2")
    assert res.code == 2 and "w.jsonl:4" in res.err and "2 votes" in res.err
    assert "Traceback" not in res.err and not (tmp_path / "m2").exists()
    res = run_cli("train", good, "--model", _spec(tiny), "--soft-labels", "--loss", "hinge",
                  "--out", tmp_path / "m3")
    assert res.code == 2 and "soft_labels" in res.err


def test_multi_seq_heads_train_towards_their_own_sets_vote_shares(tiny, attribute_sets):
    """Each attribute's pairs carry their own shares; a set without votes is named."""
    sets = {"harmless": _voted(attribute_sets["harmless"].take(range(12))),
            "contrary": _voted(attribute_sets["contrary"].take(range(12)), (2, 2, 2))}
    spec = (f"multi:seq:{tiny}?max_length=32&batch_size=4&epochs=15&lr=3e-3"
            "&soft_labels=true")
    model = resolve(spec).fit(sets)
    seq = model._seq

    def p(name):
        d = sets[name]
        prompts = [r.prompt for r in d.records]
        raw = seq.logits(prompts + prompts, [r.chosen for r in d.records]
                         + [r.rejected for r in d.records])[:, model.heads_[name]]
        return float(np.mean(1 / (1 + np.exp(-(raw[:len(d)] - raw[len(d):])))))

    assert abs(p("harmless") - 2 / 3) < 0.12 and p("contrary") > p("harmless") + 0.1
    sets["contrary"] = attribute_sets["contrary"].take(range(12))
    with pytest.raises(DataError, match="no annotator votes"):
        resolve(spec).fit(sets)


@pytest.mark.slow  # the worker processes' start (a few seconds once a session has one)
def test_two_workers_train_towards_the_same_shares_as_one(tiny, hh_small):
    """The shares travel to the worker processes with the pairs: 2 workers reach one
    process's weights, and not the hard-label ones."""
    from rewardlab.train.workers import run_local

    def launch(target, payload):
        run_local(target, payload, workers=2)

    shares = [(1, 1, 2), (2, 2, 2), (1, 1, 0), (2, 1, 1)]
    data = hh_small[0].take(range(16))
    data = replace(data, records=tuple(replace(r, votes=shares[i % 4])
                                       for i, r in enumerate(data.records)))
    spec = _spec(tiny, precision="fp32", lr=1e-4)
    one = resolve(spec + "&soft_labels=true").fit(data)
    two = resolve(spec + "&soft_labels=true").fit(data, workers=2, launcher=launch)
    hard = resolve(spec).fit(data)

    def diff(a, b):
        sa, sb = a.network.state_dict(), b.network.state_dict()
        return max(float((sa[k] - sb[k]).abs().max()) for k in sa)

    assert diff(one, two) <= 1e-5 < diff(one, hard)
