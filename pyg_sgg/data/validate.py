"""``python -m pyg_sgg.data.validate DIR``: check a VG150-format dataset folder (and, with
``--coco``, a COCO instances file) and list every problem (file, image id, field), instead of
stopping at the first.

The annotation files are checked first (h5 keys, dtypes, shapes, ranges; the dicts' class
counts; image_data's length): a problem there stops the VG check, since nothing below can be
read without them. Then: a dicts file whose ``predicate_count`` / ``object_count`` do not
follow the h5's frequencies (made for another dataset), boxes lying wholly outside their
image (the loader clips them to nothing, as SGB does), and every image of the train and test
splits: the file exists, decodes, and has the size image_data.json gives. A COCO file: its
json structure, then every annotation's segmentation (a broken RLE, a size other than its
image's) and every image file.

    python -m pyg_sgg.data.validate ~/data/vg150
    python -m pyg_sgg.data.validate my_vg --no-pixels     # skip decoding the images
    python -m pyg_sgg.data.validate my_vg --coco coco/annotations/instances_train2017.json \
        --coco-images coco/train2017
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

__all__ = ["validate_vg_folder", "validate_coco_file"]


def validate_vg_folder(root, image_dir: Optional[str] = None, pixels: bool = True,
                       progress: bool = False) -> List[str]:
    """Every problem of the VG150 folder ``root``, one line each (empty: none found)."""
    from ..errors import DatasetFormatError
    from .vg import VGDataset, read_rgb

    root = Path(root)
    problems: List[str] = []
    splits = {}
    for split in ("train", "test"):
        try:
            splits[split] = VGDataset(root, split, image_dir=image_dir, num_val_images=0,
                                      filter_empty_rels=False, filter_duplicate_rels=False,
                                      filter_non_overlap=False)
        except (DatasetFormatError, FileNotFoundError) as e:
            return [str(e)]  # the annotation files themselves: nothing below is readable
    problems += splits["train"].vocabulary_warnings
    for ds in splits.values():
        problems += boxes_outside_their_image(ds)
    from tqdm import tqdm
    for split, ds in splits.items():
        for i in tqdm(range(len(ds)), desc=f"{split} images", disable=not progress):
            iid = int(ds.image_ids[i])
            path = ds.image_path(i)
            if not path.is_file():
                problems.append(f"{path}: image {iid}: field 'image_dir': missing image file")
                continue
            w, h = int(ds.widths[i]), int(ds.heights[i])
            if pixels:
                try:
                    arr = read_rgb(path)
                except DatasetFormatError as e:
                    problems.append(f"{e} (image {iid})")
                    continue
                if (arr.shape[1], arr.shape[0]) != (w, h):
                    problems.append(f"{path}: image {iid}: field 'width/height': the file is "
                                    f"{arr.shape[1]} x {arr.shape[0]}, image_data.json says "
                                    f"{w} x {h}")
    return problems


def boxes_outside_their_image(ds) -> List[str]:
    """A line per box of ``ds`` (a :class:`~pyg_sgg.data.VGDataset`) that lies wholly outside
    its image (left / top edge at or past the image's width / height)."""
    import numpy as np

    counts = np.diff(ds.obj_ptr)
    owner = np.repeat(np.arange(len(ds)), counts)
    scale = np.maximum(ds.widths, ds.heights)[owner] / float(ds.box_scale)
    b = ds.boxes_scaled.astype(np.float64) * scale[:, None]
    bad = np.flatnonzero((b[:, 0] >= ds.widths[owner]) | (b[:, 1] >= ds.heights[owner]))
    return [f"{ds.h5_file}: image {int(ds.image_ids[owner[k]])}: field "
            f"'boxes_{ds.box_scale}': box {int(k - ds.obj_ptr[owner[k]])} "
            f"{np.round(b[k], 1).tolist()} lies outside the {int(ds.widths[owner[k]])} x "
            f"{int(ds.heights[owner[k]])} image" for k in bad]


def validate_coco_file(annotation_file, image_dir, pixels: bool = True,
                       progress: bool = False) -> List[str]:
    """Every problem of a COCO instances file and its images, one line each."""
    from ..errors import DatasetFormatError
    from .coco import COCOMaskDataset
    from .vg import read_rgb

    try:
        ds = COCOMaskDataset(annotation_file, image_dir)
    except DatasetFormatError as e:
        return [str(e)]  # the json's structure: nothing below is readable
    problems: List[str] = []
    from tqdm import tqdm
    for i in tqdm(range(len(ds)), desc="COCO images", disable=not progress):
        try:
            ds[i]  # decodes every segmentation of the image
        except DatasetFormatError as e:
            problems.append(f"{e} (image {ds.images[i]['id']})")
        path = ds.image_path(i)
        if not path.is_file():
            problems.append(f"{path}: image {ds.images[i]['id']}: field 'image_dir': missing "
                            f"image file")
        elif pixels:
            try:
                arr = read_rgb(path)
            except DatasetFormatError as e:
                problems.append(str(e))
                continue
            h, w = int(ds.images[i]["height"]), int(ds.images[i]["width"])
            if arr.shape[:2] != (h, w):
                problems.append(f"{path}: image {ds.images[i]['id']}: field 'width/height': "
                                f"the file is {arr.shape[1]} x {arr.shape[0]}, "
                                f"{Path(annotation_file).name} says {w} x {h}")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", help="folder with the VG150 files and the images")
    p.add_argument("--image-dir", default=None, help="the images (default: ROOT/images, "
                                                     "else ROOT/VG_100K)")
    p.add_argument("--no-pixels", action="store_true", help="do not decode the images")
    p.add_argument("--coco", default=None, help="also check this COCO instances json")
    p.add_argument("--coco-images", default=None, help="the COCO images (default: the "
                                                       "json's folder)")
    a = p.parse_args(argv)
    problems = validate_vg_folder(a.root, a.image_dir, pixels=not a.no_pixels, progress=True)
    if a.coco:
        images = a.coco_images or str(Path(a.coco).parent)
        problems += validate_coco_file(a.coco, images, pixels=not a.no_pixels, progress=True)
    for line in problems:
        print(line)
    print(f"{a.root}: {len(problems)} problem{'s' if len(problems) != 1 else ''}",
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
