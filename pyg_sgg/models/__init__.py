"""The scene graph model (detector features → context encoder → relation head), its config
keys, targets and task loss; each name is imported when first used."""
from ..lazy_exports import lazy_exports

_EXPORTS = {"SGGOutput": ".output", "add_sgg_model_config": ".config",
            "sgg_task_loss": ".losses", "sample_pairs": ".pair_sampler",
            "select_edges": ".pair_sampler", "SceneGraphModel": ".scene_graph_model",
            "build_context": ".builder", "context_options": ".builder",
            "build_encoder_and_head": ".builder", "build_kwargs_from_config": ".builder",
            "prepare_batch": ".batch_preparation",
            "to_predictions": ".prediction"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
