"""A deliberately simple, per-image implementation of the SGG metrics, written straight from
the rules (issue 3), to check the vectorised one against. Slow on purpose: plain loops."""
import numpy as np


def _iou(a, b):
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    one = np.float32(1)
    iw = max(min(a[2], b[2]) - max(a[0], b[0]) + one, np.float32(0))
    ih = max(min(a[3], b[3]) - max(a[1], b[1]) + one, np.float32(0))
    inter = np.float32(iw * ih)
    area_a = (a[2] - a[0] + one) * (a[3] - a[1] + one)
    area_b = (b[2] - b[0] + one) * (b[3] - b[1] + one)
    return inter / (area_a + area_b - inter)


def _matches(pred, gt, gboxes, glabels, pboxes, plabels):
    ps, po, pp = pred
    gs, go, gp = gt
    return (pp == gp and plabels[ps] == glabels[gs] and plabels[po] == glabels[go]
            and _iou(pboxes[ps], gboxes[gs]) >= 0.5 and _iou(pboxes[po], gboxes[go]) >= 0.5)


def reference_metrics(d, mode, ks=(20, 50, 100), order="score",
                      bins=((1, 5), (6, 10), (11, 15), (16, 20), (21, 25))):
    P = int(d["num_predicates"])
    train = {}
    has_train = "train_triplets" in d
    if has_train:
        counts = d.get("train_triplet_counts", np.ones(len(d["train_triplets"])))
        for t, c in zip(map(tuple, d["train_triplets"]), counts):
            train[t] = train.get(t, 0) + int(c)
    zs_list = set(map(tuple, d["zeroshot_triplets"])) if "zeroshot_triplets" in d else None
    per_image = {k: {"R": [], "ngR": [], "zR": [], "ngzR": [], "hits": 0, "acc": 0,
                     "fs": {b: [] for b in bins}} for k in ks}
    per_pred = {k: {"R": {p: [] for p in range(1, P + 1)},
                    "ngR": {p: [] for p in range(1, P + 1)}} for k in ks}
    total_gt = 0
    for i in range(len(d["gt_obj_ptr"]) - 1):
        g0, g1 = d["gt_obj_ptr"][i], d["gt_obj_ptr"][i + 1]
        gboxes, glabels = d["gt_boxes"][g0:g1], d["gt_labels"][g0:g1]
        gts = [tuple(r) for r in d["gt_rels"][d["gt_rel_ptr"][i]:d["gt_rel_ptr"][i + 1]]]
        p0, p1 = d["pred_obj_ptr"][i], d["pred_obj_ptr"][i + 1]
        pboxes, plabels = d["pred_boxes"][p0:p1], d["pred_labels"][p0:p1]
        pscores = d["pred_scores"][p0:p1]
        r0, r1 = d["rel_ptr"][i], d["rel_ptr"][i + 1]
        pairs, scores = d["rel_pair_idx"][r0:r1], d["rel_scores"][r0:r1]
        if not gts or len(pairs) == 0:
            continue
        total_gt += len(gts)
        # graph constraint
        rows = []
        for j, ((s, o), sc) in enumerate(zip(pairs, scores)):
            p = int(np.argmax(sc[1:])) + 1
            score = np.float32(sc[p]) * np.float32(pscores[s]) * np.float32(pscores[o])
            rows.append((j, s, o, p, np.float32(score)))
        if order == "score":
            rows = sorted(rows, key=lambda r: -r[4])  # Python's sort is stable
        # no graph constraint
        entries = []
        for j, ((s, o), sc) in enumerate(zip(pairs, scores)):
            obj = np.float32(pscores[s]) * np.float32(pscores[o])
            for p in range(1, P + 1):
                entries.append((j, p, s, o, np.float32(np.float32(sc[p]) * obj)))
        entries = sorted(entries, key=lambda e: -e[4])[:100]
        gt_pairs = {(g[0], g[1]) for g in gts}
        acc_rows = [r for r in rows if (r[1], r[2]) in gt_pairs]
        for k in ks:
            top = [(r[1], r[2], r[3]) for r in rows[:k]]
            top_ng = [(e[2], e[3], e[1]) for e in entries[:k]]
            top_acc = [(r[1], r[2], r[3]) for r in acc_rows[:k]]
            hit = [any(_matches(t, g, gboxes, glabels, pboxes, plabels) for t in top) for g in gts]
            hit_ng = [any(_matches(t, g, gboxes, glabels, pboxes, plabels) for t in top_ng)
                      for g in gts]
            hit_acc = [any(_matches(t, g, gboxes, glabels, pboxes, plabels) for t in top_acc)
                       for g in gts]
            acc = per_image[k]
            acc["R"].append(np.mean(hit))
            acc["ngR"].append(np.mean(hit_ng))
            acc["hits"] += sum(hit)
            acc["acc"] += sum(hit_acc)
            for p in set(g[2] for g in gts):
                idx = [n for n, g in enumerate(gts) if g[2] == p]
                per_pred[k]["R"][p].append(np.mean([hit[n] for n in idx]))
                per_pred[k]["ngR"][p].append(np.mean([hit_ng[n] for n in idx]))
            trip = [(glabels[g[0]], glabels[g[1]], g[2]) for g in gts]
            if zs_list is not None or has_train:
                zs = [(t in zs_list) if zs_list is not None else (t not in train) for t in trip]
                if any(zs):
                    acc["zR"].append(np.mean([h for h, z in zip(hit, zs) if z]))
                    acc["ngzR"].append(np.mean([h for h, z in zip(hit_ng, zs) if z]))
            if has_train:
                for lo, hi in bins:
                    sel = [lo <= train.get(t, 0) <= hi for t in trip]
                    if any(sel):
                        acc["fs"][(lo, hi)].append(np.mean([h for h, s in zip(hit, sel) if s]))
    out = {}
    for k in ks:
        acc = per_image[k]
        r = float(np.mean(acc["R"])) if acc["R"] else None
        out[f"R@{k}"] = r
        out[f"ng-R@{k}"] = float(np.mean(acc["ngR"])) if acc["ngR"] else None
        mr = sum(np.mean(v) if v else 0.0 for v in per_pred[k]["R"].values()) / P
        out[f"mR@{k}"] = float(mr)
        out[f"ng-mR@{k}"] = float(sum(np.mean(v) if v else 0.0
                                      for v in per_pred[k]["ngR"].values()) / P)
        has_zs = zs_list is not None or has_train
        out[f"zR@{k}"] = (float(np.mean(acc["zR"])) if acc["zR"] else None) if has_zs else None
        out[f"ng-zR@{k}"] = ((float(np.mean(acc["ngzR"])) if acc["ngzR"] else None)
                             if has_zs else None)
        out[f"A@{k}"] = (acc["acc"] / total_gt if total_gt else None) \
            if mode != "sgdet" else None
        out[f"aR@{k}"] = acc["hits"] / total_gt if total_gt else None
        out[f"Mean@{k}"] = (r + mr) / 2 if r is not None else None
        for lo, hi in bins:
            v = acc["fs"][(lo, hi)]
            out[f"fsR@{k}[{lo}-{hi}]"] = (float(np.mean(v)) if v else None) if has_train else None
    return out
