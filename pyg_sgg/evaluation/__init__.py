"""SGG metrics (R@K, ng-R@K, mR@K, zR@K, A@K, fsR@K, Mean@K) exactly as SGB, vectorised."""
from .evaluator import SGGEvaluator
from .interchange import (PredictionsFormatError, concat_predictions,
                          read_predictions, validate_predictions,
                          write_predictions)
from .recall_plot import plot_per_predicate_recall, predicate_training_counts
from .sgg_metrics import evaluate_predictions, metric_names
from .tables import format_results, write_metrics_json

__all__ = ["SGGEvaluator", "PredictionsFormatError", "concat_predictions", "read_predictions",
           "validate_predictions", "write_predictions", "plot_per_predicate_recall",
           "predicate_training_counts",
           "evaluate_predictions", "metric_names", "format_results", "write_metrics_json"]
