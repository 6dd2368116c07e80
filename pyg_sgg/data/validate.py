"""``python -m pyg_sgg.data.validate DIR``: check a VG150-format dataset folder and list every
problem (file, image id, field), instead of stopping at the first.

The annotation files are checked first (h5 keys, shapes, ranges; the dicts' class counts;
image_data's length): a problem there stops the check, since nothing below can be read
without them (boxes are clipped to their image on load, as SGB does). Then every image of
the train and test splits: the file exists, decodes, and has the size image_data.json gives.

    python -m pyg_sgg.data.validate ~/data/vg150
    python -m pyg_sgg.data.validate my_vg --no-pixels     # skip decoding the images
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

__all__ = ["validate_vg_folder"]


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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", help="folder with the VG150 files and the images")
    p.add_argument("--image-dir", default=None, help="the images (default: ROOT/images, "
                                                     "else ROOT/VG_100K)")
    p.add_argument("--no-pixels", action="store_true", help="do not decode the images")
    a = p.parse_args(argv)
    problems = validate_vg_folder(a.root, a.image_dir, pixels=not a.no_pixels, progress=True)
    for line in problems:
        print(line)
    print(f"{a.root}: {len(problems)} problem{'s' if len(problems) != 1 else ''}",
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
