"""Tiny in-memory datasets for the detector tests (no files, a few ms to build)."""
import pytest
import torch

from pyg_sgg.data.scene_graph import SceneGraph


class ShapesDataset:
    """Images with coloured rectangles; class ``c`` has its own colour.

    ``ds[i]`` -> :class:`SceneGraph` (``boxes``, ``labels``, ``masks [N, H, W]`` uint8 when
    ``masks``); ``ds.load_image(i)`` -> ``[3, H, W]`` float. Image 0 has no objects when
    ``empty_first``.
    """

    def __init__(self, n=8, num_classes=4, size=(64, 80), masks=False, seed=0,
                 empty_first=False, max_objects=3):
        g = torch.Generator().manual_seed(seed)
        self.num_classes, self.size, self.with_masks = num_classes, size, masks
        self.palette = torch.rand(num_classes + 1, 3, generator=g)
        self.items = []
        h, w = size
        for i in range(n):
            k = 0 if (empty_first and i == 0) else int(torch.randint(1, max_objects + 1, (),
                                                                       generator=g))
            wh = torch.randint(12, min(h, w) // 2, (k, 2), generator=g).float()
            x1 = (torch.rand(k, generator=g) * (w - wh[:, 0])).floor()
            y1 = (torch.rand(k, generator=g) * (h - wh[:, 1])).floor()
            boxes = torch.stack([x1, y1, x1 + wh[:, 0], y1 + wh[:, 1]], 1)
            labels = torch.randint(1, num_classes + 1, (k,), generator=g)
            self.items.append((boxes, labels))
        self.object_classes = ["__background__"] + [f"c{i}" for i in range(1, num_classes + 1)]
        self.class_names = self.object_classes

    def __len__(self):
        return len(self.items)

    def _masks(self, boxes):
        h, w = self.size
        ys = torch.arange(h).view(1, h, 1)
        xs = torch.arange(w).view(1, 1, w)
        b = boxes.long().view(-1, 4, 1, 1)
        return ((xs >= b[:, 0]) & (xs < b[:, 2]) & (ys >= b[:, 1]) & (ys < b[:, 3])).to(
            torch.uint8)

    def __getitem__(self, i):
        boxes, labels = self.items[i]
        extra = {"masks": self._masks(boxes)} if self.with_masks else {}
        return SceneGraph(boxes=boxes, labels=labels, image_size=self.size, image_id=i,
                          **extra)

    def load_image(self, i):
        boxes, labels = self.items[i]
        img = torch.full((3, *self.size), 0.5)
        m = self._masks(boxes).bool()
        for k in range(len(labels)):
            img[:, m[k]] = self.palette[labels[k]].view(3, 1)
        return img


@pytest.fixture
def shapes():
    return ShapesDataset
