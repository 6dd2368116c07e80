"""SGB's Transformer encoder layer (its ``EncoderLayer``: multi-head self-attention with its
own key / value widths, then a position-wise feed-forward block, each post-norm residual)."""
import math

import torch
import torch.nn.functional as F
from torch import Tensor


class SGBEncoderLayer(torch.nn.Module):
    r"""One layer of SGB's ``TransformerEncoder`` (``model_transformer.py``, after
    jadore801120/attention-is-all-you-need-pytorch), on a dense batch of images:

    .. math::
        \mathbf{A} &= \mathrm{LN}\big(\mathbf{X} + \mathrm{Drop}(\mathbf{W}_f
        [\mathrm{softmax}(\mathbf{Q}_h \mathbf{K}_h^\top / \sqrt{d_k}) \mathbf{V}_h]_{h=1}^{n})
        \big) \odot \mathbf{m}

        \mathbf{Y} &= \mathrm{LN}\big(\mathbf{A} + \mathrm{Drop}(\mathbf{W}_2\,
        \mathrm{ReLU}(\mathbf{W}_1 \mathbf{A}))\big) \odot \mathbf{m}

    with :math:`n` heads of key width :math:`d_k` and value width :math:`d_v` (independent of
    the model width, as SGB), padding keys masked out, dropout also on the attention weights,
    padded rows zeroed (:math:`\mathbf{m}`). Initialisation as SGB: query / key / value maps
    normal with std :math:`\sqrt{2 / (d + d_k)}` (:math:`d_v` for values), the output map
    Xavier-normal, the rest PyTorch's defaults.

    Args:
        channels (int): model width :math:`d`.
        inner_channels (int): feed-forward width (SGB: 2048).
        heads (int): attention heads :math:`n` (SGB: 8).
        key_channels (int): per-head key / query width :math:`d_k` (SGB: 64).
        value_channels (int): per-head value width :math:`d_v` (SGB: 64).
        dropout (float): dropout rate (SGB: 0.1).

    Shapes:
        - **input:** :math:`(B, T, d)`, mask of real rows :math:`(B, T)` (bool; each image
          needs at least one True, else its rows are NaN)
        - **output:** :math:`(B, T, d)`
    """
    def __init__(self, channels: int, inner_channels: int, heads: int, key_channels: int,
                 value_channels: int, dropout: float = 0.1):
        super().__init__()
        self.channels, self.heads = channels, heads
        self.key_channels, self.value_channels = key_channels, value_channels
        self.dropout = dropout
        self.w_q = torch.nn.Linear(channels, heads * key_channels)
        self.w_k = torch.nn.Linear(channels, heads * key_channels)
        self.w_v = torch.nn.Linear(channels, heads * value_channels)
        self.w_out = torch.nn.Linear(heads * value_channels, channels)
        self.attn_norm = torch.nn.LayerNorm(channels)
        self.ffn_in = torch.nn.Linear(channels, inner_channels)
        self.ffn_out = torch.nn.Linear(inner_channels, channels)
        self.ffn_norm = torch.nn.LayerNorm(channels)
        self.reset_parameters()

    def reset_parameters(self):
        for lin in (self.w_q, self.w_k, self.w_v, self.w_out, self.ffn_in, self.ffn_out):
            lin.reset_parameters()
        for norm in (self.attn_norm, self.ffn_norm):
            norm.reset_parameters()
        d, dk, dv = self.channels, self.key_channels, self.value_channels
        torch.nn.init.normal_(self.w_q.weight, std=math.sqrt(2.0 / (d + dk)))
        torch.nn.init.normal_(self.w_k.weight, std=math.sqrt(2.0 / (d + dk)))
        torch.nn.init.normal_(self.w_v.weight, std=math.sqrt(2.0 / (d + dv)))
        torch.nn.init.xavier_normal_(self.w_out.weight)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        B, T, _ = x.shape
        n = self.heads
        q = self.w_q(x).view(B, T, n, self.key_channels).transpose(1, 2)
        k = self.w_k(x).view(B, T, n, self.key_channels).transpose(1, 2)
        v = self.w_v(x).view(B, T, n, self.value_channels).transpose(1, 2)
        drop = self.dropout if self.training else 0.0
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :],
                                             dropout_p=drop)  # [B, n, T, d_v]
        att = att.transpose(1, 2).reshape(B, T, n * self.value_channels)
        keep = mask.unsqueeze(-1).to(x.dtype)
        out = self.attn_norm(F.dropout(self.w_out(att), drop, self.training) + x) * keep
        ffn = self.ffn_out(torch.relu(self.ffn_in(out)))
        return self.ffn_norm(F.dropout(ffn, drop, self.training) + out) * keep

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.channels}, heads={self.heads}, "
                f"key_channels={self.key_channels}, value_channels={self.value_channels})")
