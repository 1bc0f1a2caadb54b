"""Every name a rule may read: the profile's facts, the objective, and derived values.

The rule table is checked against this list when it is loaded (a misspelt fact is an
error), and the tests check that the profile emits no fact missing from it.
"""

from __future__ import annotations

__all__ = ["DERIVED", "FACTS", "OBJECTIVE", "PROFILE_FACTS"]

#: Facts :func:`losskit.profile` measures (absent when they do not apply to the target).
PROFILE_FACTS = {
    # what the target is
    "task": "the task kind (declared or inferred)",
    "task_rule": "the sentence that decided the task",
    "task_declared": "whether the task was declared",
    "inferred_task": "what inference alone says",
    "n": "number of rows", "shape": "shape of the target",
    "n_missing": "missing targets", "n_nonfinite": "infinite targets",
    "missing_fraction": "share of missing or infinite target values",
    # features and declared structure
    "n_features": "usable feature columns after the data hygiene",
    "features_per_sample": "features / rows",
    "data_notes": "one line per decision on the feature table",
    "features_dropped": "feature columns dropped (dates, ids, text, empty, constant)",
    "date_columns": "feature columns holding dates",
    "event_given": "an event (censoring) indicator was given",
    "group_given": "group ids were given", "time_given": "a time column was given",
    "n_groups": "number of groups", "group_size_median": "median rows per group",
    "group_size_min": "smallest group", "group_size_max": "largest group",
    "one_positive_per_group": "each group has exactly one row at the top relevance",
    "relevance_levels": "distinct relevance values",
    "autocorrelation": "lag-1 autocorrelation of the target in row (or time) order",
    "residual_autocorrelation": "the same for the residuals of a linear fit on the features",
    "layout_columns": "column names of a preference or image-text table",
    # classes
    "n_classes": "distinct classes", "classes": "the class labels",
    "class_counts": "rows per class", "class_prior": "share of rows per class",
    "majority_class": "most frequent class", "minority_class": "least frequent class",
    "minority_share": "share of the least frequent class",
    "smallest_class_count": "rows of the least frequent class",
    "imbalance_ratio": "largest class / smallest class (labels: negatives / positives)",
    "integer_levels": "the classes are consecutive integers",
    "positive_label": "the positive class", "n_positive": "positive rows",
    "n_negative": "negative rows", "positive_rate": "share of positives",
    "positive_rate_first_quarter": "positive rate in the first quarter of rows",
    "positive_rate_last_quarter": "positive rate in the last quarter of rows",
    "positive_rate_shift_z": "z statistic of that change",
    "suspected_label_noise": "share of rows confident learning flags",
    # numbers
    "min": "smallest value", "max": "largest value", "mean": "mean", "median": "median",
    "std": "standard deviation", "mad_sigma": "robust sigma (1.4826 MAD)",
    "outlier_fraction": "share beyond 3.5 robust sigmas of the median",
    "skewness": "skewness", "excess_kurtosis": "excess kurtosis",
    "positive_skewness": "skewness of the positive values",
    "zero_fraction": "share of exact zeros", "sign": "sign of the values",
    "integer_valued": "all values are integers", "n_distinct": "distinct values",
    "orders_of_magnitude": "log10 of the 99th / 1st percentile of the positive values",
    "order_shift": "median of the last quarter minus the first, in robust sigmas",
    "noise_source": "what the noise is measured around",
    "noise_sigma": "robust sigma of the residuals",
    "noise_dof": "rows minus fitted parameters behind the residuals",
    "noise_outlier_fraction": "share of residuals beyond 3.5 robust sigmas",
    "noise_excess_kurtosis": "excess kurtosis of the residuals",
    "noise_skewness": "skewness of the residuals",
    "heteroscedasticity": "Spearman correlation of |residual| with the fitted value",
    "pileup_side": "'lower' or 'upper' when rows pile up at a limit",
    "pileup_value": "the limit", "pileup_fraction": "share of rows at the limit",
    # counts
    "dispersion_index": "variance / mean of the raw counts",
    "dispersion": "Pearson dispersion around a Poisson fit (1 for Poisson data)",
    "dispersion_source": "the model the dispersion is measured around",
    "nb_dispersion": "negative-binomial (NB2) dispersion alpha: variance = mu + alpha mu^2",
    "count_outlier_fraction": "share of counts the fitted negative binomial calls extreme",
    "expected_zero_fraction": "share of zeros the fitted count model predicts",
    # several outputs
    "n_outputs": "target columns", "output_names": "their names",
    "output_sigmas": "robust noise scale per target column",
    "output_scale_ratio": "largest / smallest scale", "output_weight": "1 / sigma^2 per column",
    # label matrices and distributions
    "n_labels": "labels", "label_counts": "positives per label",
    "label_cardinality": "labels per row", "label_density": "share of positive slots",
    "co_occurrence_fraction": "rows with two or more labels",
    "empty_row_fraction": "rows with no label", "never_positive_labels": "labels never on",
    "mean_normalized_entropy": "mean entropy of the target rows / log K",
    "hard_row_fraction": "rows that are one-hot", "zero_mass_fraction": "target entries at 0",
    "max_row_sum_error": "largest |row sum - 1|", "class_mass": "mean probability per class",
    # images, sequences
    "image_shape": "shape of one target", "foreground_fraction": "share of foreground pixels",
    "pixel_counts": "pixels per class", "background_class": "the background label",
    "smallest_class_fraction": "share of the rarest class's pixels",
    "empty_mask_fraction": "masks without foreground",
    "binary_values": "all values are 0 or 1", "image_like": "targets have 2+ spatial axes",
    "n_sequences": "sequences", "length_min": "shortest", "length_mean": "mean length",
    "length_max": "longest", "vocab_size": "vocabulary size",
    "distinct_tokens": "distinct tokens", "padded_matrix": "given as a padded matrix",
    # survival
    "n_events": "rows with the event", "event_rate": "share of events",
    "censored_fraction": "share censored", "median_time": "median time",
    "time_min": "earliest time", "time_max": "latest time",
    "tied_event_fraction": "events sharing their time with another event",
    "n_distinct_times": "distinct times", "suggested_time_bins": "intervals for a discrete hazard",
}

#: What the user asked for (``recommend``'s metric and costs) and what follows from it.
OBJECTIVE = {
    "metric": "canonical metric name (or the unknown name as given)",
    "metric_given": "the metric as the user wrote it",
    "metric_hint": "' (did you mean ...?)' when an unknown metric is close to a known name",
    "metric_optimizes": "the statistic that minimizes the metric (mean, median, quantile, ...)",
    "metric_needs": "what the metric scores (values, labels, proba, risk, scores)",
    "costs": "asymmetric costs {under, over} or {fn, fp}",
    "quantile_level": "the quantile the costs or the metric ask for",
    "decision_threshold": "the probability above which predicting positive pays off",
    "cost_ratio": "fn / fp",
}

#: Values derived from the facts for the rules (``namespace`` computes them).
DERIVED = {
    "regression": "the task is continuous, count or proportion",
    "classes_exclusive": "binary, multiclass or ordinal",
    "known_metric": "the metric is in the vocabulary (or none was given)",
    "non_differentiable": "the metric is computed from hard decisions",
    "balanced_metric": "the metric weighs every class equally",
    "huber_delta": "1.345 x the clean noise scale",
    "symmetric_noise": "residual skewness within +-0.5",
    "pos_weight": "n_neg / n_pos", "focal_alpha": "RetinaNet's alpha for gamma = 2",
    "class_weight": "n / (K n_k) per class", "class_count_list": "rows per class, in class order",
    "labels_need_encoding": "labels are not 0..K-1",
    "label_pos_weight": "n_neg / n_pos per label",
    "log_scale": "positive, right-skewed, spanning two or more orders of magnitude",
    "outliers": "1% or more residual outliers on a continuous target",
    "heavy_tails": "residual excess kurtosis above 3 without outliers",
    "binary_masks": "segmentation with two classes",
    "overdispersed": "counts with a dispersion above 2",
    "zero_heavy": "a positive continuous target with 15% or more exact zeros",
    "censored_at_limit": "rows pile up at a limit other than a floor of zeros",
    "long_tail": "three or more classes with an imbalance of 10 or more",
    "label_noise": "confident learning flags 7% or more of the labels",
    "ordered_rows": "the rows look time-ordered (autocorrelated) but no time was given",
    "ordered_rows_explained": "the same, but a linear fit on the features leaves white residuals",
    "tweedie_power": "the Tweedie power for the data (1.5 by default)",
    "many_identities": "metric learning with 50 or more identities",
}

#: Every name a rule may read.
FACTS = {**PROFILE_FACTS, **OBJECTIVE, **DERIVED}
