"""Scene graph models assembled from pyg_sgg.nn layers."""
from .output import SGGOutput

__all__ = ["SGGOutput"]
from .config import add_sgg_model_config  # noqa: E402
from .losses import sgg_task_loss  # noqa: E402
from .pair_sampler import sample_pairs, select_edges  # noqa: E402
from .scene_graph_model import SceneGraphModel, build_context  # noqa: E402
from .sgdet_targets import sgdet_targets  # noqa: E402
__all__ += ["add_sgg_model_config", "sgg_task_loss", "sample_pairs", "select_edges",
            "SceneGraphModel", "build_context", "sgdet_targets"]
