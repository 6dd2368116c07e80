"""Zero-shot mask transfer as a layer: the detector's COCO-vocabulary mask logits → logits of
every VG class, per box (all C channels kept), before the sigmoid."""
import torch
from torch import Tensor, nn

__all__ = ["MaskTransfer"]


class MaskTransfer(nn.Module):
    r"""``out[r, c] = \sum_k T[c, k] · x[r, k]`` over the COCO foreground channels.

    Args:
        transfer (Tensor): ``[C, K]`` class map (:func:`pyg_sgg.data.mask_transfer.transfer_matrix`;
            one-hot rows copy a base class's channel exactly).

    Shapes:
        input ``[R, K, H, W]`` (or ``[R, K + 1, H, W]`` with ``background_channel=True``:
        channel 0 is dropped) → output ``[R, C, H, W]``.
    """

    def __init__(self, transfer: Tensor):
        super().__init__()
        self.register_buffer("transfer", transfer.float().clone(), persistent=True)

    def reset_parameters(self) -> None:  # a fixed map: nothing to learn
        pass

    def forward(self, mask_logits: Tensor, background_channel: bool = False) -> Tensor:
        x = mask_logits[:, 1:] if background_channel else mask_logits
        if x.size(1) != self.transfer.size(1):
            raise ValueError(f"MaskTransfer: {x.size(1)} COCO channels, the map has "
                             f"{self.transfer.size(1)}")
        R, K, H, W = x.shape
        out = torch.matmul(self.transfer.to(x.dtype), x.reshape(R, K, H * W))  # [R, C, HW]
        return out.reshape(R, self.transfer.size(0), H, W)

    def __repr__(self) -> str:
        C, K = self.transfer.shape
        return f"{self.__class__.__name__}(coco_classes={K}, vg_classes={C})"
