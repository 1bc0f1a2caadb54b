"""losskit.concepts: topics, their demonstrations, their references and the CLI fallback."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from losskit import concepts
from losskit._core.registry import get_info
from losskit._core.validate import LossInputError
from losskit.cli import main

TOPICS = concepts.topics()
SLUGS = [t.slug for t in TOPICS]


def _approx(a: float, b: float, tol: float = 1e-9) -> bool:
    return abs(a - b) <= tol


# The numeric relation each demonstration claims, asserted here on its values (not on
# its own ``holds`` flag), so a demonstration that computes the wrong thing fails.
RELATIONS = {
    "what-is-a-loss": lambda v: v["loss_after"] < v["loss_before"] and v["gradient_error"] < 1e-12,
    "choosing-a-loss": lambda v: v["top_is_robust"] == 1 and v["mse_rank"] > 1,
    "mse-vs-mae-vs-huber": lambda v: (
        _approx(v["mse_minimizer"], v["mean"], 1e-3)
        and _approx(v["mae_minimizer"], v["median"], 1e-3)
        and v["median"] < v["huber_minimizer"] < v["mean"]
        and _approx(v["mse_grad_at_3"], 6) and _approx(v["mae_grad_at_3"], 1)
        and _approx(v["huber_grad_at_3"], 1)
        and _approx(v["smooth_l1_grad_at_0.05"], 0.5) and _approx(v["huber_grad_at_0.05"], 0.05)
        and v["smooth_l1_minus_huber_over_beta"] < 1e-12),
    "cross-entropy-vs-mse": lambda v: (
        _approx(v["grad_ce"], 1 / (1 + math.exp(8)) - 1, 1e-12)  # p - y at z = -8
        and -1e-3 < v["grad_mse"] < 0 and v["ratio"] > 1000
        and v["min_curvature_ce"] >= 0 and v["min_curvature_mse"] < 0),
    "cross-entropy-nonnegative": lambda v: (
        0 <= v["ce_confident_correct"] < 1e-8
        and _approx(v["ce_soft_target_at_q_equals_p"], -(0.7 * math.log(0.7) + 0.2 * math.log(0.2)
                                                         + 0.1 * math.log(0.1)))
        and abs(v["kl_at_q_equals_p"]) < 1e-12
        and _approx(v["gaussian_nll_small_variance"], 0.5 * math.log(0.01), 1e-9)),
    "why-log-in-cross-entropy": lambda v: (
        v["float32_product_of_2000_probabilities"] == 0
        and _approx(v["float32_sum_of_their_logs"], 2000 * math.log(0.6), 0.5)
        and v["log_identity_error"] < 1e-9
        and _approx(v["nll_confident_wrong"], -math.log(0.001))
        and _approx(v["nll_hesitant"], -math.log(0.4))),
    "cross-entropy-vs-kl": lambda v: (
        _approx(v["cross_entropy"], v["entropy"] + v["kl"], 1e-12) and v["kl"] > 0
        and v["gradient_difference"] < 1e-12),
    "nll-vs-cross-entropy": lambda v: (
        _approx(v["cross_entropy"], v["nll_of_log_softmax"], 1e-12)
        and _approx(v["cross_entropy"], v["torch_CrossEntropyLoss"], 1e-12)
        and _approx(v["cross_entropy"], v["torch_LogSoftmax_NLLLoss"], 1e-12)
        and v["nll_fed_probabilities"] < 0),
    "perplexity-and-cross-entropy": lambda v: (
        _approx(v["perplexity"], v["exp_cross_entropy_nats"])
        and _approx(v["perplexity"], v["two_to_cross_entropy_bits"])
        and _approx(v["uniform_over_50"], 50)),
    "binary-vs-categorical-vs-multilabel": lambda v: (
        v["two_logit_ce_vs_bce_error"] < 1e-12
        and v["softmax_p_label0"] + v["softmax_p_label1"] <= 1
        and min(v["sigmoid_p_label0"], v["sigmoid_p_label1"]) > 0.99),
    "multilabel-label-structure": lambda v: (
        _approx(v["bce_coherent"], v["bce_incoherent"], 1e-12)
        and v["hierarchy_penalty_coherent"] == 0
        and _approx(v["hierarchy_penalty_incoherent"], 0.3, 1e-12)),
    "custom-loss-design": lambda v: (
        v["error_rate"] == 0.75 and v["error_rate_has_graph"] == 0
        and v["rounded_loss_grad_norm"] == 0 and v["bce_grad_norm"] > 0.1),
    "testing-a-custom-loss": lambda v: (
        v["custom_mse_passed"] == 1 and v["sign_flipped_passed"] == 0
        and v["sign_flipped_failed_checks"] == 2 and v["custom_vs_builtin_error"] < 1e-6),
    "loss-metric-misalignment": lambda v: (
        v["ce_a"] < v["ce_b"] and v["accuracy_a"] == 0.75 and v["accuracy_b"] == 1.0
        # IoUs (0, 1) vs (0.45, 0.45); Dice = 2 IoU / (1 + IoU) per image
        and _approx(v["mean_iou_masks_a"], 0.5) and _approx(v["mean_iou_masks_b"], 0.45)
        and _approx(v["mean_dice_masks_a"], 0.5) and _approx(v["mean_dice_masks_b"], 0.9 / 1.45)),
    "non-differentiable-metrics": lambda v: (
        v["best_f1"] > v["f1_at_0.5"] + 0.05 and v["best_threshold"] != 0.5
        and abs(v["reinforce_gradient_estimate"] - v["exact_gradient"]) < 0.05 * v["exact_gradient"]
        and _approx(v["exact_gradient"], 1 / (1 + math.exp(-0.3)) / (1 + math.exp(0.3)), 1e-12)),
    "numerical-stability": lambda v: (
        math.isinf(v["naive_cross_entropy"]) and _approx(v["cross_entropy"], 1000, 1e-3)
        and math.isinf(v["naive_bce"]) and _approx(v["bce"], 200, 1e-3)
        and math.isinf(v["naive_exponential_loss"]) and v["log_of_exponential_loss"] == 100
        and math.isinf(v["naive_log_cosh"])
        and _approx(v["log_cosh"], 100 - math.log(2), 1e-3)),
    "regularization-in-the-loss": lambda v: (
        v["max_weight_difference"] < 1e-12
        and _approx(v["l2_penalty_of_w0"], v["sum_of_squares_w0"], 1e-12)),
    "domain-knowledge-penalties": lambda v: (
        _approx(v["minimizer_lam_1"], 4.5, 1e-3)
        and _approx(v["minimizer_lam_100"], 405 / 101, 1e-3)
        and v["minimizer_lam_100"] < v["minimizer_lam_1"]
        and _approx(v["min_penalty_contradictory_bounds"], 0.5, 1e-3)),
    "fairness-tradeoffs": lambda v: (
        _approx(v["perfect_parity_gap"], 0.5 - 0.2, 1e-9) and v["perfect_odds_gap"] < 1e-9
        and v["constant_parity_gap"] == 0 and v["constant_odds_gap"] == 0
        and v["tpr_0.8_fpr_0.3_odds_gap"] < 1e-12
        and _approx(v["tpr_0.8_fpr_0.3_parity_gap"], (0.8 - 0.3) * (0.5 - 0.2), 1e-12)),
    "distribution-shift": lambda v: (
        _approx(v["deployment_risk"], v["importance_weighted_loss"], 1e-12)
        and _approx(v["class1_weight_before_shift"], 1, 1e-6)
        and v["class1_weight_after_shift"] > 1.5),
    "time-series-losses": lambda v: (
        v["empirical_q90_low"] - 0.1 <= v["pinball_0.9_minimizer"] <= v["empirical_q90_high"] + 0.1
        and _approx(v["recency_weight_ratio_3_steps"], 0.5, 1e-6)
        and _approx(v["recency_weight_mean"], 1, 1e-6)
        and v["log_of_zero"] == -math.inf
        and _approx(v["msle_with_zero_target"], math.log(2) ** 2, 1e-6)
        # (log(1 + 110) - log(1 + 100))^2 and (log(2.1) - log(2))^2, written out
        and _approx(v["msle_110_for_100"], math.log(111 / 101) ** 2, 1e-12)
        and _approx(v["msle_1.1_for_1"], math.log(2.1 / 2) ** 2, 1e-12)
        and round(v["msle_110_for_100"], 4) == 0.0089 and round(v["msle_1.1_for_1"], 4) == 0.0024),
    "autoencoder-reconstruction": lambda v: (
        _approx(v["mse_optimal_pixel"], 0.7) and _approx(v["mae_optimal_pixel"], 1.0)
        and _approx(v["elbo_total"], v["reconstruction_plus_beta_kl"])
        and _approx(v["kl"], v["gaussian_kl"])
        # -(0.5 log 0.5 + 0.5 log 0.5) = log 2 at sigmoid(0) = 0.5
        and _approx(v["bce_perfect_reconstruction_of_0.5"], math.log(2), 1e-12)
        and v["bce_perfect_reconstruction_of_1"] < 1e-12),
    "imbalanced-data": lambda v: (
        _approx(v["class0_total_weight"], v["class1_total_weight"], 1e-6)
        and v["class1_weight"] > v["class0_weight"]
        and _approx(v["focal_over_bce_at_p_0.9"], 0.01)
        # d/dz of -(1-p)^2 log p is 2 p (1-p)^2 log p - (1-p)^3; of -log p it is p - 1
        and _approx(v["focal_grad_over_bce_grad_at_p_0.9"],
                    (2 * 0.9 * 0.01 * math.log(0.9) - 0.001) / (0.9 - 1), 1e-12)
        and round(1 / v["focal_grad_over_bce_grad_at_p_0.9"]) == 35
        # pos_weight w multiplies the optimal odds by w: 4 x (0.2 / 0.8) = 1, logit 0
        and abs(v["best_logit_bce"] - math.log(0.25)) <= 1e-3
        and abs(v["best_logit_pos_weight_4"]) <= 1e-3),
    "noisy-labels-and-outliers": lambda v: (
        _approx(v["mse_grad_residual_100"], 200) and _approx(v["huber_grad_residual_100"], 1)
        and abs(v["smoothed_bce_grad_at_logit_ln19"]) < 1e-12
        and _approx(v["bce_grad_at_logit_ln19"], 0.95 - 1, 1e-12)),
    "sequence-objectives": lambda v: _approx(v["summed_token_cross_entropy"],
                                             v["minus_log_sequence_probability"]),
}


def test_every_demonstration_has_a_relation_test():
    with_demo = {t.slug for t in TOPICS if t.demo is not None}
    assert with_demo == set(RELATIONS)


@pytest.mark.parametrize("slug", sorted(RELATIONS))
def test_demonstration_claim_holds(slug):
    demo = concepts.get(slug).demonstrate()
    assert demo is not None and demo.claim
    assert RELATIONS[slug](dict(demo.values)), demo.values
    assert demo.holds, demo.values
    json.dumps(demo.to_dict())


@pytest.mark.parametrize("slug", sorted(RELATIONS))
def test_demonstrations_do_not_depend_on_the_default_dtype(slug):
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        demo = concepts.get(slug).demonstrate()
    finally:
        torch.set_default_dtype(before)
    assert demo.holds and RELATIONS[slug](dict(demo.values)), demo.values


def test_demonstrations_are_deterministic():
    for slug in ("non-differentiable-metrics", "distribution-shift", "time-series-losses"):
        topic = concepts.get(slug)
        assert topic.demonstrate().values == topic.demonstrate().values


@pytest.mark.parametrize("slug", SLUGS)
def test_see_also_resolves(slug):
    topic = concepts.get(slug)
    assert topic.see_also, "every topic points to where losskit implements it"
    for ref in topic.see_also:
        assert concepts.resolve_reference(ref) is not None, ref
        assert concepts.describe_reference(ref)


def test_resolve_reference_rejects_what_does_not_exist():
    for ref in ("loss:no_such_loss", "topic:no-such-topic", "py:losskit.no_such_thing",
                "py:no_such_module.x", "cli:no-such-command", "check:no_such_check",
                "rule:no-such-rule", "scenario:no_such_scenario"):
        with pytest.raises(LookupError):
            concepts.resolve_reference(ref)
    with pytest.raises(ValueError):
        concepts.resolve_reference("nonsense")


def test_topic_names_are_unique_and_never_shadowed_by_a_loss():
    # ``losskit explain NAME`` tries the loss registry first: a topic name equal to a loss
    # name or alias (after its normalization) would be unreachable.
    names = [n for t in TOPICS for n in (t.slug, *t.aliases)]
    assert len({n.replace("_", "-") for n in names}) == len(names)
    for name in names:
        with pytest.raises(LossInputError):
            get_info(name)


def test_lookup_by_slug_alias_and_spelling():
    assert concepts.get("cross-entropy-vs-kl") is concepts.TOPICS["cross-entropy-vs-kl"]
    assert concepts.get("KL_vs_Cross_Entropy").slug == "cross-entropy-vs-kl"
    assert concepts.get("vanishing gradient").slug == "cross-entropy-vs-mse"
    assert concepts.find("huber") is None
    with pytest.raises(LossInputError, match="cross-entropy-vs-kl"):
        concepts.get("cross-entropy-vs-kll")
    assert [t.slug for t in concepts.topics()] == list(concepts.TOPICS)


def test_topics_are_substantial():
    for t in TOPICS:
        assert t.title and t.summary and len(t.body) >= 2, t.slug
        assert all(len(p) > 150 for p in t.body), t.slug
        card = t.card(run_demo=False)
        assert card["topic"] == t.slug and card["demonstration"] is None
        json.dumps(card)


# -- topic files -------------------------------------------------------------------------

TOPIC_DIR = Path(concepts.__file__).parent / "topics"


def test_every_topic_file_is_loaded_and_named_by_its_slug():
    files = sorted(p.stem for p in TOPIC_DIR.glob("*.md"))
    assert sorted(concepts.TOPICS) == files
    assert set(concepts.DEMONSTRATIONS) <= set(files), "a demonstration without its topic"


def test_front_matter_is_yaml_and_reads_the_same():
    yaml = pytest.importorskip("yaml")
    for path in TOPIC_DIR.glob("*.md"):
        text = path.read_text()
        meta = yaml.safe_load(text.split("---\n")[1])
        topic = concepts.TOPICS[path.stem]
        assert meta["slug"] == topic.slug and meta["title"] == topic.title
        assert tuple(meta.get("aliases", ())) == topic.aliases
        assert tuple(meta.get("see_also", ())) == topic.see_also


def test_a_new_topic_file_is_picked_up(tmp_path):
    for path in TOPIC_DIR.glob("*.md"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "aligning-language-models.md").write_text(
        "---\nslug: aligning-language-models\ntitle: \"Aligning language models: DPO\"\n"
        "aliases: [rlhf, preference-optimization]\nsee_also:\n  - loss:cross_entropy\n---\n\n"
        "One line of summary.\n\nA paragraph\nwrapped over two lines.\n")
    loaded = concepts.load_topics(tmp_path)
    topic = loaded["aligning-language-models"]
    assert topic.title == "Aligning language models: DPO"
    assert topic.aliases == ("rlhf", "preference-optimization")
    assert topic.summary == "One line of summary."
    assert topic.body == ("A paragraph wrapped over two lines.",)
    assert list(loaded)[: len(concepts.TOPICS)] == list(concepts.TOPICS)  # unordered go last


def test_malformed_topic_files_are_refused():
    with pytest.raises(ValueError, match="front matter"):
        concepts.parse_topic("no front matter\n")
    with pytest.raises(ValueError, match="unknown front matter key 'see-also'"):
        concepts.parse_topic("---\nslug: a\ntitle: b\nsee-also: [x]\n---\n\ntext\n")
    with pytest.raises(ValueError, match="needs 'title'"):
        concepts.parse_topic("---\nslug: a\n---\n\ntext\n")


def test_topic_files_ship_in_the_package_data():
    text = (Path(concepts.__file__).parents[2] / "pyproject.toml").read_text()
    assert '"topics/*.md"' in text


# -- CLI --------------------------------------------------------------------------------

def test_cli_explain_topic(capsys):
    assert main(["explain", "cross-entropy-vs-kl"]) == 0
    out = capsys.readouterr().out
    assert "Cross-entropy and KL divergence" in out
    assert "holds: yes" in out and "losskit explain kl_div" in out


def test_cli_explain_topic_by_alias_json(capsys):
    assert main(["explain", "vanishing-gradient", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["topic"] == "cross-entropy-vs-mse"
    assert card["demonstration"]["holds"] is True


def test_cli_topic_text_keeps_brackets(capsys):
    assert main(["explain", "numerical-stability"]) == 0
    assert "[eps, 1 - eps]" in " ".join(capsys.readouterr().out.split())


def test_cli_topics_lists_all(capsys):
    assert main(["explain", "--topics", "--json"]) == 0
    assert [r["topic"] for r in json.loads(capsys.readouterr().out)] == SLUGS
    assert main(["explain", "--topics"]) == 0
    out = capsys.readouterr().out
    assert all(slug in out for slug in SLUGS)


def test_cli_loss_cards_still_work(capsys):
    assert main(["explain", "huber"]) == 0
    assert "Huber" in capsys.readouterr().out


def test_cli_unknown_name_suggests_losses_and_topics(capsys):
    assert main(["explain", "cross-entropy-vs-kll"]) == 2
    err = capsys.readouterr().err
    assert "unknown loss or topic" in err
    assert "cross_entropy" in err and "cross-entropy-vs-kl" in err
    assert main(["explain", "hubr"]) == 2
    assert "huber" in capsys.readouterr().err


def test_cli_explain_needs_a_name_and_plot_needs_a_loss(capsys, tmp_path):
    assert main(["explain"]) == 2
    assert "--topics" in capsys.readouterr().err
    assert main(["explain", "cross-entropy-vs-kl", "--plot", str(tmp_path / "x.png")]) == 2
    assert "concept topic" in capsys.readouterr().err
