"""Connected components of a binary image, with each one's box, area and centroid.

``cv2.connectedComponentsWithStats`` gathers its statistics in a second pass
over every pixel, background included; where ink is a few per cent of the
image (a page at the fiducial search's size, the stroke tracer's canvas) that
pass costs several times the labelling itself. ``foreground_components``
labels with ``cv2.connectedComponents`` (the same labels) and gathers the
statistics from the labelled pixels only (``cv2.findNonZero``): the same
numbers — bounds and areas are counts, each centroid the quotient of integer
coordinate sums by the area, as OpenCV computes it.
"""

from __future__ import annotations

import cv2
import numpy as np


def foreground_components(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label the 8-connected components of ``binary``'s nonzero pixels.

    Parameters
    ----------
    binary : (H, W) uint8
        Nonzero pixels are foreground.

    Returns
    -------
    labels : (H, W) int32
        0 for the background, 1 … n for the components (``cv2.connectedComponents``'s numbering).
    stats : (n, 5) int32
        Row ``k`` describes label ``k + 1``, in ``cv2.CC_STAT_*`` column order
        (left, top, width, height, area): ``connectedComponentsWithStats``'s
        rows without the background's.
    centroids : (n, 2) float64
        Row ``k``: label ``k + 1``'s mean column and row.
    """
    count, labels = cv2.connectedComponents(binary, connectivity=8, ltype=cv2.CV_32S)
    n = count - 1
    stats = np.zeros((n, 5), np.int32)
    centroids = np.zeros((n, 2), np.float64)
    points = cv2.findNonZero(binary) if n else None
    if points is None:
        return labels, stats, centroids
    points = points.reshape(-1, 2)  # (N, 1, 2) or (N, 2) as OpenCV versions differ: column, row in raster order
    xs, ys = points[:, 0], points[:, 1]
    found = labels[ys, xs] - 1
    area = np.bincount(found, minlength=n)
    left = np.full(n, binary.shape[1], np.int32)
    right = np.zeros(n, np.int32)
    top = np.full(n, binary.shape[0], np.int32)
    bottom = np.zeros(n, np.int32)
    np.minimum.at(left, found, xs)
    np.maximum.at(right, found, xs)
    np.minimum.at(top, found, ys)
    np.maximum.at(bottom, found, ys)
    stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP] = left, top
    stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT] = right - left + 1, bottom - top + 1
    stats[:, cv2.CC_STAT_AREA] = area
    # integer sums (exact in float64), divided once by the area: OpenCV's own quotient
    centroids[:, 0] = np.bincount(found, weights=xs, minlength=n) / area
    centroids[:, 1] = np.bincount(found, weights=ys, minlength=n) / area
    return labels, stats, centroids
