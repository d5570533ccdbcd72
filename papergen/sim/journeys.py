"""How a page reaches the grader: a clean raster, a scanner, a phone photo or a fax.

Each ``degrade_*`` function takes the pencilled page, ``(H, W)`` uint8 at
the resolution it was drawn at, and a random stream, and returns what the
device hands over (``Delivered``): a flatbed or copier scan (skew, blur,
noise, JPEG, sometimes black and white), a phone photo (perspective, page
curl, lighting, colour), or a harsh fax-like copy (a covered corner, hard
black and white, turned on its side), or a scan that lost corner squares
(``degrade_cut``: fed crooked or shifted and cut at the bed's edge, a copy
with a clipped margin, a covered corner, a staple). Harder journeys, as
bad as what graders meet: a photocopy with its contrast pushed and toner
specks (``degrade_copier``), a scan of a sheet folded in three or in half
(``degrade_fold``: crease lines with their shading), a fax (``degrade_fax``:
1-bit, 150–204 dpi, often at half vertical resolution, some pages with a dirty scan head's line
down the page or a lost line across it), a phone photo saved
at low JPEG quality, a harsh phone photo with a shadow band across the
page (``degrade_shadow``), and a phone photo a scanner app cut out, whitened
and "enhanced", its black point raised (``degrade_app``). What happened to the
corner squares is named in ``Delivered.journey`` ("cut:TL,TR",
"covered:BR;staple:TL", …) for ``truth.csv``. Colour pages are
``(H, W, 3)`` uint8 in RGB order.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from papergen.sim.marks import MM_PER_INCH

# -- photo page curl (shares of the page size) ---------------------------------
CURL_BOW = 0.001  # the page bows by up to 0.1 % between opposite edges
CURL_LIFT = (0.001, 0.002)  # one edge lifts, moving its outer quarter by up to 0.2 %
CURL_EDGE = 0.25  # how far in from that edge the lift reaches
#: A sheet that does not lie flat (folded, held in the hand, pressed on a book; ``--degrade curled``): it bows by
#: up to 0.4 % and one edge lifts by 0.3–0.7 %, moving boxes by up to about 2 mm beyond a frame through the corners.
CURLED_BOW = 0.004
CURLED_LIFT = (0.003, 0.007)
#: A photo taken at an angle (``--degrade tilted``): the page tilted 20–35° about one of its axes, away from a
#: phone held about 1.6 page-heights from it, so the far edge is narrower and the far squares foreshortened.
TILT_DEGREES = (20.0, 35.0)
TILT_DISTANCE = 1.6
#: A photo with the page turned in the picture (``--degrade turned``): the sheet lying crooked on the desk or the phone
#: held askew, 10–40° either way (a plain photo turns it at most 4°), the page as large as the picture holds it.
TURN_DEGREES = (10.0, 40.0)

# -- black-and-white devices ---------------------------------------------------
#: Where a B/W scan or fax cuts, as a share of its own black…white range. The
#: lightest real mark lies below 0.5 of it, erasure residue above 0.8: both
#: survive binarization as what they are (faint marks and ticks may not).
BW_CUT = (0.55, 0.65)


@dataclass(frozen=True)
class Delivered:
    """A page as the device hands it over."""

    image: np.ndarray  # (H, W) uint8 grayscale or (H, W, 3) uint8 RGB
    dpi: float  # nominal resolution recorded in the file
    rotation: int = 0  # clockwise degrees the page was turned: 0, 90, 180, 270
    binary: bool = False  # black and white only (0 and 255)
    quality: int = 95  # JPEG quality
    journey: str = ""  # what befell the corner squares, ``journey_label``: "" when nothing did


def gaussian_noise(shape: tuple[int, ...], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of standard deviation ``sigma`` grey levels, int16 ``shape``.

    Drawn as random bytes through a normal-quantile table: several times
    faster than ``standard_normal`` for page-sized arrays.
    """
    normal = statistics.NormalDist(0.0, sigma)
    table = np.array([round(normal.inv_cdf((i + 0.5) / 256)) for i in range(256)], dtype=np.int16)
    codes = np.frombuffer(rng.bytes(int(np.prod(shape))), dtype=np.uint8).reshape(shape)
    return cv2.LUT(codes, table)


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` (H, W) or (H, W, 3) uint8 plus Gaussian noise, saturated."""
    return cv2.add(image, gaussian_noise(image.shape, sigma, rng), dtype=cv2.CV_8U)


def paper_levels(image: np.ndarray, white: float, black: float, gamma: float = 1.0) -> np.ndarray:
    """Map 255 → ``white`` and 0 → ``black`` (a device's paper and toner levels); (H, W) uint8."""
    ramp = (np.arange(256) / 255.0) ** gamma
    table = np.clip(black + (white - black) * ramp + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(image, table)


def scanner_placement(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    dpi_in: float,
    dpi_out: float,
    keep_px: np.ndarray,
    max_angle: float = 3.0,
    max_shift_mm: float = 3.0,
    margin_mm: tuple[float, float] = (2.0, 5.0),
    background: int = 240,
) -> np.ndarray:
    """The page lying slightly askew on a scanner bed, sampled at ``dpi_out``.

    Parameters
    ----------
    image : (H, W) uint8
        The page at ``dpi_in``.
    keep_px : (N, 2) float
        Points (page pixels at ``dpi_in``) that must stay at least 1.5 mm
        inside the scan — the fiducial corners, so a skewed page is never
        cropped into an unreadable one.
    background
        Grey of the scanner lid around the page.

    Returns
    -------
    (H', W') uint8: the bed area (page plus a margin) at ``dpi_out``.
    """
    scale = dpi_out / dpi_in
    if scale < 0.6:  # area-average first: linear warping alone would alias thin print
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        shrink = small.shape[1] / image.shape[1]
        keep_px = keep_px * shrink
        image, scale = small, scale / shrink
    px_per_mm = dpi_out / MM_PER_INCH
    margin = rng.uniform(*margin_mm) * px_per_mm
    h, w = image.shape
    out_w, out_h = int(round(w * scale + 2 * margin)), int(round(h * scale + 2 * margin))
    angle = rng.uniform(-max_angle, max_angle)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += (out_w / 2 - w / 2, out_h / 2 - h / 2)
    placed = keep_px @ matrix[:, :2].T + matrix[:, 2]
    keep = 1.5 * px_per_mm
    limit = max_shift_mm * px_per_mm
    for axis, size in ((0, out_w), (1, out_h)):
        low = max(-limit, keep - placed[:, axis].min())
        high = min(limit, size - keep - placed[:, axis].max())
        matrix[axis, 2] += rng.uniform(low, high) if low <= high else (low + high) / 2
    return cv2.warpAffine(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=background)


def degrade_none(image: np.ndarray, dpi: float) -> Delivered:
    """The clean raster, unchanged: ``image`` (H, W) uint8."""
    return Delivered(image, dpi)


def degrade_scan(
    image: np.ndarray, rng: np.random.Generator, *, dpi_in: float, dpi_out: float | None, keep_px: np.ndarray,
    bw_share: float = 0.3,
) -> Delivered:
    """A flatbed or copier scan: 150–300 dpi, ±3° skew, shift, blur, noise, JPEG 50–90, grey or B/W.

    ``image`` is the marked page, (H, W) uint8 at ``dpi_in``; ``keep_px`` as in ``scanner_placement``;
    ``bw_share`` how often the device is in its black-and-white mode (its threshold is set for white paper).
    """
    dpi = float(dpi_out or rng.integers(150, 301))
    white, black = rng.uniform(228, 252), rng.uniform(8, 35)
    page = paper_levels(image, white=white, black=black, gamma=rng.uniform(0.9, 1.15))
    page = scanner_placement(page, rng, dpi_in=dpi_in, dpi_out=dpi, keep_px=keep_px, background=int(rng.integers(225, 250)))
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.35, 0.9))
    page = add_noise(page, rng.uniform(2.0, 7.0), rng)
    quality = int(rng.integers(50, 91))
    if rng.random() < bw_share:  # the copier's "text" (black-and-white) mode
        _, page = cv2.threshold(page, black + (white - black) * rng.uniform(*BW_CUT), 255, cv2.THRESH_BINARY)
        return Delivered(page, dpi, binary=True, quality=quality)
    return Delivered(page, dpi, quality=quality)


def cover_corner(
    image: np.ndarray, corner: int, rng: np.random.Generator, *, fiducial_px: Sequence[float], px_per_mm: float, grey: int
) -> np.ndarray:
    """A patch (sticker, staple plate, folded corner) over one corner fiducial; returns a new (H, W) uint8.

    ``corner`` counts TL, TR, BL, BR; ``fiducial_px`` is that fiducial's
    ``(x, y, w, h)``. The patch reaches from the paper corner to 0.8–1.8 mm
    past the square's inner edges (no further: the QR code is 2.5 mm from
    the top-right square).
    """
    x, y, w, h = fiducial_px
    ppm = px_per_mm
    reach = rng.uniform(0.8, 1.8, 2) * ppm
    H, W = image.shape[:2]
    left_side, top_side = corner in (0, 2), corner in (0, 1)
    x0, x1 = (0, x + w + reach[0]) if left_side else (x - reach[0], W)
    y0, y1 = (0, y + h + reach[1]) if top_side else (y - reach[1], H)
    out = image.copy()
    out[int(y0):int(math.ceil(y1)), int(x0):int(math.ceil(x1))] = grey
    # the patch's edge casts a thin line, as a sticker or fold does
    edge = max(1, int(round(0.15 * ppm)))
    xe = int(x1) if left_side else int(x0)
    ye = int(y1) if top_side else int(y0)
    cv2.line(out, (xe, int(y0)), (xe, int(y1)), max(0, grey - 90), edge)
    cv2.line(out, (int(x0), ye), (int(x1), ye), max(0, grey - 90), edge)
    return out


def degrade_harsh(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    dpi_in: float,
    dpi_out: float | None,
    keep_px: np.ndarray,
    fiducials_px: Sequence[Sequence[float]],
) -> Delivered:
    """A fax-like copy: one corner fiducial covered (half the pages), skew and noise,
    hard black-and-white, and the page turned by 0/90/180/270°.

    ``image`` (H, W) uint8 at ``dpi_in``; ``fiducials_px`` the four fiducial
    rectangles in frame order (TL, TR, BL, BR) in page pixels.
    """
    dpi = float(dpi_out or rng.integers(150, 201))
    page = image
    journey = ""
    if rng.random() < 0.5:
        corner = int(rng.integers(4))
        journey = journey_label([Mishap("covered", (corner,))])
        # white (sticker) or light grey (fold); darker grey would binarize into a black blob
        grey = int(rng.choice([int(rng.integers(235, 256)), int(rng.integers(185, 216))]))
        page = cover_corner(page, corner, rng, fiducial_px=fiducials_px[corner], px_per_mm=dpi_in / MM_PER_INCH, grey=grey)
        keep_px = np.delete(keep_px, slice(4 * corner, 4 * corner + 4), axis=0)
    white, black = rng.uniform(215, 245), rng.uniform(20, 50)
    page = paper_levels(page, white=white, black=black, gamma=rng.uniform(1.0, 1.2))
    page = scanner_placement(page, rng, dpi_in=dpi_in, dpi_out=dpi, keep_px=keep_px, background=int(rng.integers(215, 245)))
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.5, 1.1))
    page = add_noise(page, rng.uniform(4.0, 9.0), rng)
    _, page = cv2.threshold(page, black + (white - black) * rng.uniform(*BW_CUT), 255, cv2.THRESH_BINARY)
    speckle = rng.random(page.shape, dtype=np.float32) < rng.uniform(2e-4, 1.5e-3)  # line noise
    page[speckle] = 255 - page[speckle]
    rotation = int(rng.choice([0, 90, 180, 270], p=[0.25, 0.2, 0.35, 0.2]))
    return Delivered(rotate_clockwise(page, rotation), dpi, rotation=rotation, binary=True, quality=int(rng.integers(60, 86)),
                     journey=journey)


def rotate_clockwise(image: np.ndarray, degrees: int) -> np.ndarray:
    """``image`` turned clockwise by a multiple of 90°; (H, W[, 3]) → (H, W) or (W, H)."""
    if degrees % 90:
        raise ValueError("degrees must be a multiple of 90")
    return np.ascontiguousarray(np.rot90(image, k=-(degrees // 90) % 4))


def degrade_photo(
    image: np.ndarray, rng: np.random.Generator, *, megapixels: tuple[float, float] = (8.0, 12.0),
    quality: tuple[int, int] = (80, 94), bow: float = CURL_BOW, lift: tuple[float, float] = CURL_LIFT,
    tilt: tuple[float, float] | None = None, turn: tuple[float, float] | None = None,
) -> Delivered:
    """A phone photo of the page on a desk: 8–12 MP colour, perspective (``tilt``: the page seen at an angle,
    ``_tilted``), page curl (``bow``, ``lift``: ``_curl``), a lighting gradient and a soft shadow, light defocus,
    sensor noise, JPEG. ``turn``: the page turned this many degrees (either way) in the picture (``_photo_quad``).

    Parameters
    ----------
    image : (H, W) uint8
        The marked page (300 dpi is about the photo's own resolution).

    Returns
    -------
    ``Delivered`` with an (h, w, 3) uint8 RGB image, portrait 3:4.
    """
    megapixels = rng.uniform(*megapixels)
    out_h = int(round(math.sqrt(megapixels * 1e6 * 4 / 3)))
    out_w = int(round(out_h * 3 / 4))
    H0, W0 = image.shape
    quad = _photo_quad(rng, (W0, H0), (out_w, out_h), turn)
    if tilt is not None:
        quad = _tilted(quad, rng.uniform(*tilt), int(rng.integers(4)), (out_w, out_h))
    src = np.array([[0, 0], [W0, 0], [W0, H0], [0, H0]], dtype=np.float32)
    to_page = np.linalg.inv(cv2.getPerspectiveTransform(src, quad))

    # The inverse map (photo pixel → page pixel) is smooth: compute it on a
    # coarse grid and let cv2.resize interpolate. Grid point i sits where
    # resize samples it, at pixel (i + 0.5) * step - 0.5.
    step = 8
    cols, rows = -(-out_w // step), -(-out_h // step)
    gx, gy = np.meshgrid((np.arange(cols) + 0.5) * step - 0.5, (np.arange(rows) + 0.5) * step - 0.5)
    hom = np.stack([gx, gy, np.ones_like(gx)], axis=-1) @ to_page.T
    sx, sy = hom[..., 0] / hom[..., 2], hom[..., 1] / hom[..., 2]
    sx, sy = _curl(sx, sy, (W0, H0), rng, bow=bow, lift=lift)
    full = (cols * step, rows * step)
    map_x = cv2.resize(sx.astype(np.float32), full, interpolation=cv2.INTER_LINEAR)[:out_h, :out_w]
    map_y = cv2.resize(sy.astype(np.float32), full, interpolation=cv2.INTER_LINEAR)[:out_h, :out_w]
    page = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = ((map_x >= 0) & (map_x < W0 - 1) & (map_y >= 0) & (map_y < H0 - 1)).astype(np.float32)
    inside = cv2.GaussianBlur(inside, (0, 0), 1.2)

    desk = np.array(rng.choice([(120, 85, 55), (150, 150, 145), (90, 90, 95), (175, 140, 100)]), dtype=np.float32)
    desk_texture = cv2.resize(rng.normal(1.0, 0.06, (out_h // 32 + 1, out_w // 32 + 1)).astype(np.float32), (out_w, out_h),
                              interpolation=cv2.INTER_CUBIC)
    light = _lighting(rng, out_w, out_h)
    tint = np.array(rng.choice([(1.0, 0.96, 0.86), (0.93, 0.97, 1.0), (1.0, 0.99, 0.95)]), dtype=np.float32)
    paper = page.astype(np.float32) * inside
    background = (1.0 - inside) * desk_texture
    rgb = np.empty((out_h, out_w, 3), dtype=np.uint8)
    for c in range(3):
        channel = (paper * tint[c] + background * desk[c]) * light
        rgb[..., c] = np.clip(channel, 0, 255).astype(np.uint8)
    rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.5, 1.2))
    rgb = add_noise(rgb, rng.uniform(2.0, 5.0), rng)
    dpi = round(max(out_w, out_h) / (297 / MM_PER_INCH))  # nominal: the frame is about an A4 page
    return Delivered(rgb, dpi, quality=int(rng.integers(*quality)))


def _photo_quad(
    rng: np.random.Generator, page: tuple[int, int], frame: tuple[int, int], turn: tuple[float, float] | None = None,
) -> np.ndarray:
    """Where the page's corners land in the photo (TL, TR, BR, BL), ``(4, 2)`` float32; ``turn``: the page turned
    that many degrees either way (else at most 4°), shrunk until it fits the picture turned."""
    W0, H0 = page
    w, h = frame
    fill = rng.uniform(0.78, 0.9)
    cx, cy = w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 + rng.uniform(-0.03, 0.03) * h
    # (drawn in this order, so that a plain photo of a seed stays the photo it always was)
    turn = math.radians(rng.uniform(-4, 4) if turn is None else rng.uniform(*turn) * rng.choice([-1.0, 1.0]))
    if abs(turn) <= math.radians(4):
        wide, high = W0, H0
    else:  # the turned page's extent, as a multiple of its scale
        wide = W0 * abs(math.cos(turn)) + H0 * abs(math.sin(turn))
        high = W0 * abs(math.sin(turn)) + H0 * abs(math.cos(turn))
    k = min(fill * h / high, 0.9 * w / wide)
    half = np.array([[-W0, -H0], [W0, -H0], [W0, H0], [-W0, H0]]) * k / 2
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    quad = half @ rotation.T + (cx, cy)
    quad += rng.uniform(-0.035, 0.035, (4, 2)) * (w, h)  # the camera is not parallel to the page
    quad[:, 0] = np.clip(quad[:, 0], 0.01 * w, 0.99 * w)
    quad[:, 1] = np.clip(quad[:, 1], 0.01 * h, 0.99 * h)
    return quad.astype(np.float32)


def _tilted(quad: np.ndarray, degrees: float, far: int, frame: tuple[int, int]) -> np.ndarray:
    """``quad`` (the page's corners in the photo, TL, TR, BR, BL) as seen with the page tilted ``degrees`` away from
    the camera on side ``far`` (0 top, 1 right, 2 bottom, 3 left): a pinhole ``TILT_DISTANCE`` photo-heights away
    looking at the photo's centre, the tilted page scaled back to the extent it had toward its far side (the
    photographer steps closer). ``(4, 2)`` float32."""
    w, h = frame
    centre = np.array([w / 2, h / 2])
    points = quad - centre
    # turn the page so that its far side is the top, tilt about the horizontal axis, turn back
    turn = np.array([[1.0, 0.0], [0.0, 1.0]]) if far == 0 else np.array([[0.0, 1.0], [-1.0, 0.0]]) if far == 1 else (
        np.array([[-1.0, 0.0], [0.0, -1.0]]) if far == 2 else np.array([[0.0, -1.0], [1.0, 0.0]]))
    x, y = (points @ turn.T).T
    angle = math.radians(degrees)
    depth = -y * math.sin(angle)  # the top (y < 0) moves away
    distance = TILT_DISTANCE * h
    seen = np.stack([distance * x / (distance + depth), distance * y * math.cos(angle) / (distance + depth)], axis=1)
    seen *= (y.max() - y.min()) / max(1e-9, float(np.ptp(seen[:, 1])))  # the photographer fills the frame again…
    placed = seen @ turn
    # …but keeps every corner in the picture
    room = min((0.48 * w) / max(1e-9, float(np.abs(placed[:, 0]).max())), (0.48 * h) / max(1e-9, float(np.abs(placed[:, 1]).max())))
    return (placed * min(1.0, room) + centre).astype(np.float32)


def _curl(
    sx: np.ndarray, sy: np.ndarray, page: tuple[int, int], rng: np.random.Generator, *, bow: float = CURL_BOW,
    lift: tuple[float, float] = CURL_LIFT,
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth non-linear warp of page coordinates: a bow (up to ``bow`` of the page) plus one curling edge
    (``lift``: the range of its share of the page).

    Slight by default: beyond the homography through the four fiducials,
    boxes move by at most about 0.5 mm (95th percentile 0.45 mm) — the box
    core starts 0.58 mm inside its edge. ``CURLED_BOW`` and ``CURLED_LIFT``
    move them by up to about 2 mm: the printed box outlines must say where.
    """
    W0, H0 = page
    u, v = sx / W0, sy / H0
    sy = sy + rng.uniform(-bow, bow) * H0 * np.sin(np.pi * np.clip(u, 0, 1))
    sx = sx + rng.uniform(-bow, bow) * W0 * np.sin(np.pi * np.clip(v, 0, 1))
    lift = rng.uniform(*lift)
    edge = int(rng.integers(4))
    start = 1 - CURL_EDGE
    if edge == 0:
        sx = sx + lift * W0 * np.clip((u - start) / (1 - start), 0, None) ** 2
    elif edge == 1:
        sx = sx - lift * W0 * np.clip((1 - start - u) / (1 - start), 0, None) ** 2
    elif edge == 2:
        sy = sy + lift * H0 * np.clip((v - start) / (1 - start), 0, None) ** 2
    else:
        sy = sy - lift * H0 * np.clip((1 - start - v) / (1 - start), 0, None) ** 2
    return sx, sy


def _lighting(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Brightness over the photo, ``(h, w)`` float32 ≤ 1: a gradient and a soft shadow edge."""
    ys, xs = np.mgrid[0:h:16, 0:w:16].astype(np.float32)
    u, v = xs / w - 0.5, ys / h - 0.5
    gain = 1.0 + rng.uniform(-0.35, 0.35) * u + rng.uniform(-0.35, 0.35) * v
    theta = rng.uniform(0, 2 * math.pi)
    offset = rng.uniform(0.15, 0.35)  # the shadow covers the far side of this line
    distance = u * math.cos(theta) + v * math.sin(theta) - offset
    softness = rng.uniform(0.03, 0.08)
    gain *= 1.0 - rng.uniform(0.2, 0.4) / (1.0 + np.exp(-distance / softness))
    gain *= rng.uniform(0.92, 1.0) / gain.max()
    return cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)


# -- pages that lose corner squares (degrade_cut) --------------------------------
#: The corner squares in frame order, as truth.csv names them.
CORNER_NAMES = ("TL", "TR", "BL", "BR")
#: The page's sides and the two corner squares on each.
SIDE_CORNERS = {"top": (0, 1), "bottom": (2, 3), "left": (0, 2), "right": (1, 3)}
#: How a ``cut`` page loses its corner squares, and how often: fed crooked
#: (one square beyond the bed's edge) or shifted (both squares on a side), a
#: copy that clipped a margin, a covered corner, a staple, and one square cut
#: by a crooked feed while another is covered.
CUT_JOURNEYS = {"crooked": 0.2, "shifted": 0.2, "clipped": 0.15, "covered": 0.15, "staple": 0.15,
                "crooked+covered": 0.15}
#: A 24/6 staple's crown is 12.7 mm long; seen from the front it is a thin bar of bent wire.
STAPLE_LENGTH_MM = (12.0, 13.0)
STAPLE_WIDTH_MM = (0.6, 0.9)
#: Where a staple's middle lies, mm from both paper edges at its corner
#: (the squares span 8–15 mm: the crown often crosses one).
STAPLE_AT_MM = (7.0, 16.0)
#: How far past a cut square the bed's edge may reach into the page (keeping off the QR code where it can).
CUT_DEEPER_MM = 2.5


@dataclass(frozen=True)
class Mishap:
    """What befell corner squares on the way to the grader."""

    kind: str  # cut (beyond the bed's edge) | clipped (a copy's missing margin) | covered | staple
    corners: tuple[int, ...]  # frame order: 0 TL, 1 TR, 2 BL, 3 BR


def journey_label(mishaps: Sequence[Mishap]) -> str:
    """``truth.csv``'s ``journey`` cell: ``"cut:TL,TR;covered:BR"``, ``""`` when nothing happened."""
    return ";".join(f"{m.kind}:{','.join(CORNER_NAMES[c] for c in sorted(m.corners))}" for m in mishaps)


def degrade_cut(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    dpi_in: float,
    dpi_out: float | None,
    keep_px: np.ndarray,
    fiducials_px: Sequence[Sequence[float]],
    qr_px: Sequence[float],
) -> Delivered:
    """A flatbed or copier scan (as ``degrade_scan``) of a page that lost corner squares on the way.

    One of ``CUT_JOURNEYS``: fed crooked so that one square lies beyond the
    bed's edge, shifted so that both squares on one side do (the image ends
    there, through or past them), a copy whose copier clipped a margin with
    the two squares on it, a sticker, fold or thumb over one square, a staple
    across a corner, or a crooked feed plus a covered square. A quarter of
    the pages are fed upside down. ``Delivered.journey`` names what happened.

    ``image`` (H, W) uint8 at ``dpi_in``; ``keep_px`` as in ``scanner_placement``;
    ``fiducials_px`` the four squares ``(x, y, w, h)`` in frame order and
    ``qr_px`` the QR code's, page pixels: a cut stays off the QR code where
    it can, so that these pages test reading without the lost squares.
    """
    dpi = float(dpi_out or rng.integers(150, 301))
    ppm = dpi_in / MM_PER_INCH
    what = str(rng.choice(list(CUT_JOURNEYS), p=list(CUT_JOURNEYS.values())))
    page = image
    mishaps: list[Mishap] = []
    gone: set[int] = set()  # squares no longer on the paper's face (clipped, covered): placement need not keep them
    cut: tuple[int, ...] = ()
    side = ""
    if what in ("crooked", "crooked+covered"):
        cut = (int(rng.integers(4)),)
        side = str(rng.choice([s for s, pair in SIDE_CORNERS.items() if cut[0] in pair]))
    elif what == "shifted":
        side = str(rng.choice(list(SIDE_CORNERS)))
        cut = SIDE_CORNERS[side]
    if what == "clipped":
        side = str(rng.choice(list(SIDE_CORNERS)))
        page = clip_margin(page, side, rng, fiducials_px=fiducials_px, px_per_mm=ppm)
        gone.update(SIDE_CORNERS[side])
        mishaps.append(Mishap("clipped", SIDE_CORNERS[side]))
    elif what in ("covered", "crooked+covered"):
        corner = int(rng.choice([c for c in range(4) if c not in cut]))
        style = str(rng.choice(["sticker", "fold", "thumb"]))
        if style == "thumb":
            page = press_thumb(page, corner, rng, fiducial_px=fiducials_px[corner], px_per_mm=ppm)
        else:
            grey = int(rng.integers(235, 256)) if style == "sticker" else int(rng.integers(185, 216))
            page = cover_corner(page, corner, rng, fiducial_px=fiducials_px[corner], px_per_mm=ppm, grey=grey)
        gone.add(corner)
        mishaps.append(Mishap("covered", (corner,)))
    elif what == "staple":
        corner = int(rng.integers(4))
        page = staple(page, corner, rng, px_per_mm=ppm)
        mishaps.append(Mishap("staple", (corner,)))
    white, black = rng.uniform(228, 252), rng.uniform(8, 35)
    page = paper_levels(page, white=white, black=black, gamma=rng.uniform(0.9, 1.15))
    background = int(rng.integers(225, 250))
    if cut:
        kept = [c for c in range(4) if c not in cut and c not in gone]
        qx, qy, qw, qh = qr_px
        qr_corners = np.array([(qx, qy), (qx + qw, qy), (qx, qy + qh), (qx + qw, qy + qh)], dtype=np.float64)
        page, lost = crooked_feed(page, rng, dpi_in=dpi_in, dpi_out=dpi, corners_px=keep_px, cut=cut, side=side,
                                  kept=kept, background=background, clear_px=qr_corners)
        mishaps.insert(0, Mishap("cut", lost))
    else:
        keep = np.delete(keep_px, [4 * c + k for c in sorted(gone) for k in range(4)], axis=0)
        page = scanner_placement(page, rng, dpi_in=dpi_in, dpi_out=dpi, keep_px=keep, background=background)
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.35, 0.9))
    page = add_noise(page, rng.uniform(2.0, 7.0), rng)
    quality = int(rng.integers(50, 91))
    binary = rng.random() < 0.3  # the copier's "text" (black-and-white) mode
    if binary:
        _, page = cv2.threshold(page, black + (white - black) * rng.uniform(*BW_CUT), 255, cv2.THRESH_BINARY)
    rotation = 180 if rng.random() < 0.25 else 0
    return Delivered(rotate_clockwise(page, rotation), dpi, rotation=rotation, binary=binary, quality=quality,
                     journey=journey_label(mishaps))


def crooked_feed(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    dpi_in: float,
    dpi_out: float,
    corners_px: np.ndarray,
    cut: Sequence[int],
    side: str,
    kept: Sequence[int],
    background: int,
    clear_px: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[int, ...]]:
    """The page fed so crooked or so far off that the bed's edge on ``side`` cuts off the squares ``cut``.

    The page is turned — 2.5–5° when one square is to be cut, so that it
    stands out beyond its neighbour on that side; under 0.8° when both are —
    and the image ends at a line across ``side`` that takes at least half of
    each square in ``cut`` and at most ``CUT_DEEPER_MM`` more, keeping 1.5 mm
    clear of every square in ``kept`` and 0.5 mm of the points ``clear_px``
    (the QR code's corners) where it can. ``corners_px`` (16, 2) are the
    squares' corners at ``dpi_in``, four rows per square in frame order;
    ``clear_px`` (N, 2) also at ``dpi_in``.

    Returns the scan, (H', W') uint8 at ``dpi_out``, and the squares the line
    actually reaches (any corner of theirs beyond it), for truth.
    """
    scale = dpi_out / dpi_in
    if scale < 0.6:  # area-average first, as in scanner_placement
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        shrink = small.shape[1] / image.shape[1]
        corners_px = corners_px * shrink
        clear_px = None if clear_px is None else clear_px * shrink
        image, scale = small, scale / shrink
    px_per_mm = dpi_out / MM_PER_INCH
    margin = rng.uniform(2.0, 5.0) * px_per_mm
    h, w = image.shape
    axis = 1 if side in ("top", "bottom") else 0  # the cut line runs across this coordinate
    outward = -1.0 if side in ("top", "left") else 1.0  # "beyond the line" is this way along ``axis``

    def placed(angle: float) -> tuple[np.ndarray, tuple[int, int], np.ndarray]:
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        size = (int(round(w * cos + h * sin + 2 * margin)), int(round(w * sin + h * cos + 2 * margin)))
        matrix[:, 2] += (size[0] / 2 - w / 2, size[1] / 2 - h / 2)
        return matrix, size, corners_px @ matrix[:, :2].T + matrix[:, 2]

    def centre(points: np.ndarray, square: int) -> np.ndarray:
        return points[4 * square:4 * square + 4].mean(axis=0)

    angle = rng.uniform(2.5, 5.0) if len(cut) == 1 else rng.uniform(0.0, 0.8)
    angle *= rng.choice([-1.0, 1.0])
    if len(cut) == 1:  # turn the way that lifts the cut square beyond its neighbour on that side
        neighbour = next(c for c in SIDE_CORNERS[side] if c != cut[0])
        points = placed(angle)[2]
        if outward * (centre(points, cut[0])[axis] - centre(points, neighbour)[axis]) < 0:
            angle = -angle
    matrix, size, points = placed(angle)
    keep = 1.5 * px_per_mm
    kept_rows = [4 * c + k for c in kept for k in range(4)]
    across = 1 - axis  # along the cut line: a small shift, keeping the kept squares on the bed
    if kept_rows:
        limit = 3.0 * px_per_mm
        low = max(-limit, keep - points[kept_rows, across].min())
        high = min(limit, size[across] - keep - points[kept_rows, across].max())
        shift = rng.uniform(low, high) if low <= high else (low + high) / 2
        matrix[across, 2] += shift
        points[:, across] += shift
    # t: distance outward along ``axis``; the line at t = edge removes everything with t > edge
    t = outward * points[:, axis]
    cut_rows = [4 * c + k for c in cut for k in range(4)]
    high = min(outward * centre(points, c)[axis] for c in cut)  # at least half of every cut square
    low = t[cut_rows].min() - CUT_DEEPER_MM * px_per_mm
    if kept_rows:
        low = max(low, t[kept_rows].max() + keep)
    if clear_px is not None and len(clear_px):
        low = max(low, outward * (clear_px @ matrix[:, :2].T + matrix[:, 2])[:, axis].max() + 0.5 * px_per_mm)
    edge = rng.uniform(low, high) if low <= high else high
    scan = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderValue=background)
    line = outward * edge
    if outward < 0:
        start = max(0, int(math.ceil(line)))
        scan = scan[start:] if axis == 1 else scan[:, start:]
    else:
        stop = min(size[axis], int(line))
        scan = scan[:stop] if axis == 1 else scan[:, :stop]
    lost = tuple(c for c in range(4) if (t[4 * c:4 * c + 4] > edge).any())
    return np.ascontiguousarray(scan), lost


def clip_margin(
    image: np.ndarray, side: str, rng: np.random.Generator, *, fiducials_px: Sequence[Sequence[float]], px_per_mm: float
) -> np.ndarray:
    """A copy whose copier missed a strip along ``side``: blank paper from that edge to past the middle
    of both squares on it, at most 1 mm beyond them; returns a new (H, W) uint8."""
    squares = [fiducials_px[c] for c in SIDE_CORNERS[side]]
    k = 1 if side in ("top", "bottom") else 0  # 0: x, 1: y of (x, y, w, h)
    out = image.copy()
    strip = out if k == 1 else out.T  # a view: rows along the cut axis
    if side in ("top", "left"):
        middle = max(s[k] + s[k + 2] / 2 for s in squares)
        inner = max(s[k] + s[k + 2] for s in squares)
        strip[:int(math.ceil(rng.uniform(middle, inner + px_per_mm)))] = 255
    else:
        middle = min(s[k] + s[k + 2] / 2 for s in squares)
        inner = min(s[k] for s in squares)
        strip[int(rng.uniform(inner - px_per_mm, middle)):] = 255
    return out


def press_thumb(
    image: np.ndarray, corner: int, rng: np.random.Generator, *, fiducial_px: Sequence[float], px_per_mm: float
) -> np.ndarray:
    """A thumb holding the page down over one corner square: a soft grey oval from the paper corner
    to 0.3–1.2 mm past the square's inner corner, its soft rim half a millimetre more (the QR code's
    corner is 2.8 mm further along the diagonal); returns a new (H, W) uint8."""
    x, y, w, h = fiducial_px
    H, W = image.shape[:2]
    left_side, top_side = corner in (0, 2), corner in (0, 1)
    corner_xy = (0.0 if left_side else float(W), 0.0 if top_side else float(H))
    inner = (x + w if left_side else x, y + h if top_side else y)
    along = math.hypot(inner[0] - corner_xy[0], inner[1] - corner_xy[1]) + rng.uniform(0.3, 1.2) * px_per_mm
    across = along * rng.uniform(0.75, 0.9)
    tilt = 45.0 if left_side == top_side else -45.0  # the long axis runs along the corner's diagonal
    mask = np.zeros((H, W), dtype=np.float32)
    cv2.ellipse(mask, (int(round(corner_xy[0])), int(round(corner_xy[1]))), (int(along), int(across)), tilt,
                0, 360, 1.0, -1, cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.25 * px_per_mm)
    mask = np.minimum(1.0, mask * 1.6)  # solid up to its edge, a soft rim of about half a millimetre outside
    grey = rng.uniform(110, 170)
    out = image.astype(np.float32) * (1.0 - mask) + grey * mask
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def staple(image: np.ndarray, corner: int, rng: np.random.Generator, *, px_per_mm: float) -> np.ndarray:
    """A staple's crown near ``corner``: a dark bar of wire slanted across the corner, often over its
    square, with the metal's lighter sheen along the middle; returns a new (H, W) uint8."""
    H, W = image.shape[:2]
    u, v = rng.uniform(*STAPLE_AT_MM, 2) * px_per_mm  # the middle, from the side edge and the top/bottom edge
    slant = math.radians(rng.uniform(25.0, 65.0))
    half = rng.uniform(*STAPLE_LENGTH_MM) / 2 * px_per_mm
    ends = [(u + half * math.cos(slant), v - half * math.sin(slant)), (u - half * math.cos(slant), v + half * math.sin(slant))]
    left_side, top_side = corner in (0, 2), corner in (0, 1)
    points = [(int(round(a if left_side else W - a)), int(round(b if top_side else H - b))) for a, b in ends]
    width = max(1, int(round(rng.uniform(*STAPLE_WIDTH_MM) * px_per_mm)))
    grey = int(rng.integers(30, 90))
    out = image.copy()
    cv2.line(out, points[0], points[1], grey, width, cv2.LINE_AA)
    cv2.line(out, points[0], points[1], min(255, grey + 70), max(1, width // 3), cv2.LINE_AA)
    return out


# -- harder journeys: copier, fold, fax, shadow -------------------------------------
#: JPEG quality of the harder journeys' files: down to 45.
LOW_QUALITY = (45, 81)
#: A crease's dark line (share of black) and the shading beside it (share of white lost).
CREASE_LINE = (0.12, 0.3)
CREASE_LINE_MM = (0.1, 0.3)
CREASE_SHADE = (0.04, 0.12)
CREASE_SHADE_MM = (2.0, 8.0)
#: A shadow band's darkening (share of the light lost) and its width (share of the photo's diagonal).
SHADOW_DEPTH = (0.35, 0.6)
SHADOW_WIDTH = (0.12, 0.3)


def degrade_copier(
    image: np.ndarray, rng: np.random.Generator, *, dpi_in: float, dpi_out: float | None, keep_px: np.ndarray
) -> Delivered:
    """A photocopy, scanned: contrast pushed (an S-shaped tone curve that drives light grey towards
    white and dark towards black), toner specks, a faint streak along the feed, skew, JPEG 45–80."""
    dpi = float(dpi_out or rng.integers(150, 301))
    steep, middle = rng.uniform(5.0, 9.0), rng.uniform(0.45, 0.6)
    ramp = np.arange(256) / 255.0
    curve = 1.0 / (1.0 + np.exp(-steep * (ramp - middle)))
    curve = (curve - curve[0]) / (curve[-1] - curve[0])
    white, black = rng.uniform(238, 254), rng.uniform(0, 18)
    page = cv2.LUT(image, np.clip(black + (white - black) * curve + 0.5, 0, 255).astype(np.uint8))
    specks = rng.random(page.shape, dtype=np.float32) < rng.uniform(1e-4, 6e-4)
    page[specks] = np.minimum(page[specks], int(rng.integers(40, 140)))
    page = scanner_placement(page, rng, dpi_in=dpi_in, dpi_out=dpi, keep_px=keep_px, max_angle=2.0,
                             background=int(rng.integers(225, 250)))
    streak = np.ones(page.shape[1], dtype=np.float32)
    at, width = int(rng.integers(page.shape[1])), int(rng.integers(2, 12))
    streak[at:at + width] = rng.uniform(0.9, 0.97)
    page = np.clip(page * streak[None, :], 0, 255).astype(np.uint8)
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.4, 1.0))
    page = add_noise(page, rng.uniform(2.0, 6.0), rng)
    return Delivered(page, dpi, quality=int(rng.integers(*LOW_QUALITY)))


def crease(image: np.ndarray, rng: np.random.Generator, *, px_per_mm: float, horizontal: bool, at: float) -> np.ndarray:
    """A fold's crease across the page at share ``at`` of its height (or width): a thin dark line,
    slightly tilted and wavy, with shading on one side; returns a new (H, W) uint8."""
    H, W = image.shape
    length, across = (W, H) if horizontal else (H, W)
    t = np.arange(length, dtype=np.float32)
    line = at * across + rng.uniform(-0.015, 0.015) * (t - length / 2)
    line += _smooth_wave(length, rng, amplitude=0.4 * px_per_mm)
    pos = np.arange(across, dtype=np.float32)[:, None] - line[None, :]  # (across, length): distance past the line
    width = rng.uniform(*CREASE_LINE_MM) * px_per_mm
    dark = rng.uniform(*CREASE_LINE) * np.exp(-0.5 * (pos / max(width, 0.5)) ** 2)
    side = rng.choice([-1.0, 1.0])
    reach = rng.uniform(*CREASE_SHADE_MM) * px_per_mm
    shade = rng.uniform(*CREASE_SHADE) * np.exp(-np.clip(side * pos, 0, None) / reach) * (side * pos > 0)
    loss = 1.0 - (1.0 - dark) * (1.0 - shade)
    if not horizontal:
        loss = loss.T
    return np.clip(image * (1.0 - loss) + 0.5, 0, 255).astype(np.uint8)


def _smooth_wave(length: int, rng: np.random.Generator, *, amplitude: float) -> np.ndarray:
    """A gentle random wave along ``length`` samples, about ``amplitude`` pixels: (length,) float32."""
    knots = rng.normal(0.0, amplitude, 6).astype(np.float32)
    return cv2.resize(knots[None, :], (length, 1), interpolation=cv2.INTER_CUBIC)[0]


def degrade_fold(
    image: np.ndarray, rng: np.random.Generator, *, dpi_in: float, dpi_out: float | None, keep_px: np.ndarray
) -> Delivered:
    """A sheet folded in three (two creases across) or in half (one, sometimes a second one down the
    middle), opened and scanned as ``degrade_scan`` with JPEG quality down to 45."""
    ppm = dpi_in / MM_PER_INCH
    page = image
    if rng.random() < 0.6:
        for at in (1 / 3, 2 / 3):
            page = crease(page, rng, px_per_mm=ppm, horizontal=True, at=at + rng.uniform(-0.02, 0.02))
    else:
        page = crease(page, rng, px_per_mm=ppm, horizontal=True, at=0.5 + rng.uniform(-0.02, 0.02))
        if rng.random() < 0.4:
            page = crease(page, rng, px_per_mm=ppm, horizontal=False, at=0.5 + rng.uniform(-0.02, 0.02))
    scanned = degrade_scan(page, rng, dpi_in=dpi_in, dpi_out=dpi_out, keep_px=keep_px)
    return Delivered(scanned.image, scanned.dpi, binary=scanned.binary, quality=int(rng.integers(*LOW_QUALITY)))


def degrade_fax(
    image: np.ndarray, rng: np.random.Generator, *, dpi_in: float, dpi_out: float | None, keep_px: np.ndarray
) -> Delivered:
    """A fax: 150–204 dpi, skew, blur and noise, cut to 1-bit black and white, at "standard" resolution
    (every other line, stretched back) on 40 % of the pages, line-noise specks, JPEG 45–80."""
    dpi = float(dpi_out or rng.integers(150, 205))
    white, black = rng.uniform(220, 250), rng.uniform(10, 45)
    page = paper_levels(image, white=white, black=black, gamma=rng.uniform(0.95, 1.2))
    page = scanner_placement(page, rng, dpi_in=dpi_in, dpi_out=dpi, keep_px=keep_px, max_angle=2.0,
                             background=int(rng.integers(225, 250)))
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.4, 1.0))
    page = add_noise(page, rng.uniform(3.0, 8.0), rng)
    if rng.random() < 0.4:  # standard resolution: half the lines, each sent twice
        h = page.shape[0]
        half = cv2.resize(page, (page.shape[1], h // 2), interpolation=cv2.INTER_AREA)
        page = cv2.resize(half, (page.shape[1], h), interpolation=cv2.INTER_NEAREST)
    _, page = cv2.threshold(page, black + (white - black) * rng.uniform(*BW_CUT), 255, cv2.THRESH_BINARY)
    speckle = rng.random(page.shape, dtype=np.float32) < rng.uniform(1e-4, 8e-4)
    page[speckle] = 255 - page[speckle]
    quality = int(rng.integers(*LOW_QUALITY))
    # drawn last, so that a page without a line is the very page it was before lines were simulated
    device_lines(page, rng)
    return Delivered(page, dpi, binary=True, quality=quality)


#: Share of fax pages with a dust line down the page (a speck on the scan head: one to three
#: pixels wide, the whole height), and with a line lost across it (a scan line sent black).
DUST_LINE_SHARE = 0.3
LOST_LINE_SHARE = 0.1


def device_lines(page: np.ndarray, rng: np.random.Generator) -> None:
    """Draw, in place, the straight black lines a sheet-fed device adds to a 1-bit page: on ``DUST_LINE_SHARE``
    of pages one or two columns of dust down the whole page, on ``LOST_LINE_SHARE`` a row lost across it."""
    h, w = page.shape
    if rng.random() < DUST_LINE_SHARE:
        for _ in range(int(rng.integers(1, 3))):
            at, width = int(rng.integers(w)), int(rng.integers(1, 4))
            page[:, at:at + width] = 0
    if rng.random() < LOST_LINE_SHARE:
        at, height = int(rng.integers(h)), int(rng.integers(1, 3))
        page[at:at + height, :] = 0


def shadow_band(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A band of shadow (an arm, the phone itself) across a photo: ``SHADOW_DEPTH`` of the light
    lost inside it, soft edges; (h, w, 3) uint8 → new (h, w, 3) uint8."""
    h, w = rgb.shape[:2]
    ys, xs = np.mgrid[0:h:8, 0:w:8].astype(np.float32)
    theta = rng.uniform(0, math.pi)
    diagonal = math.hypot(w, h)
    distance = ((xs - w / 2) * math.cos(theta) + (ys - h / 2) * math.sin(theta)) / diagonal - rng.uniform(-0.25, 0.25)
    half = rng.uniform(*SHADOW_WIDTH) / 2
    soft = rng.uniform(0.005, 0.03)
    inside = 1.0 / (1.0 + np.exp(np.clip((np.abs(distance) - half) / soft, -60.0, 60.0)))
    gain = 1.0 - rng.uniform(*SHADOW_DEPTH) * inside
    gain = cv2.resize(gain.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(rgb * gain[..., None], 0, 255).astype(np.uint8)


def degrade_shadow(image: np.ndarray, rng: np.random.Generator) -> Delivered:
    """A harsh phone photo: 5–9 MP, a shadow band across the page on top of ``degrade_photo``'s
    uneven light, more sensor noise, JPEG 45–70."""
    photo = degrade_photo(image, rng, megapixels=(5.0, 9.0), quality=(45, 71))
    rgb = add_noise(shadow_band(photo.image, rng), rng.uniform(2.0, 5.0), rng)
    return Delivered(rgb, photo.dpi, quality=photo.quality)


#: A scanner app's "enhance" (扫描全能王, WeChat's document scan): the black point it raises, as a share of
#: the paper white below which everything goes black. At 0.5 a mid-grey is black and an erased film darkens
#: to a light fill's grey.
APP_BLACK_POINT = (0.15, 0.5)
#: How wide the app's own paper estimate looks (mm): wider than an answer box, so a fill is not taken for shade.
APP_PAPER_MM = 8.0
#: The app's white point: its paper estimate is the brightest grain nearby; this much past it, the grain clips white.
APP_WHITE_GAIN = 1.06


def degrade_app(image: np.ndarray, rng: np.random.Generator, *, dpi_in: float, keep_px: np.ndarray) -> Delivered:
    """A phone photo handed over by a scanner app's document mode.

    The app found the page, cut it out and flattened it (within a degree and
    a millimetre or two), then "enhanced" it: the shading of the room's
    light divided out so the paper is white, the black point raised so that
    greys go darker and pencil black, and the result sharpened. Once the
    light is divided out (all but a shadow's sharp edge, which the app's
    smooth paper estimate lags behind), the raised black point multiplies
    every darkness on the page alike, up to where ink clips at black: the
    printed letters darken exactly as much as the pencil.

    Parameters
    ----------
    image : (H, W) uint8
        The marked page at ``dpi_in``.
    keep_px : (N, 2) float
        As in ``scanner_placement``.

    Returns
    -------
    ``Delivered``: (h, w) uint8 grey, 1600–2500 px wide (about 190–300 dpi), JPEG 60–90.
    """
    width_px = int(rng.integers(1600, 2501))
    dpi = width_px / (210 / MM_PER_INCH)
    page = scanner_placement(image, rng, dpi_in=dpi_in, dpi_out=dpi, keep_px=keep_px, max_angle=1.0,
                             max_shift_mm=1.5, margin_mm=(0.5, 2.0), background=int(rng.integers(150, 220)))
    h, w = page.shape
    light = _lighting(rng, w, h)
    shot = page.astype(np.float32) * light
    if rng.random() < 0.4:  # the phone's or an arm's shadow across the page
        shot = shadow_band(np.repeat(np.clip(shot, 0, 255).astype(np.uint8)[..., None], 3, axis=2), rng)[..., 0]
    shot = cv2.GaussianBlur(np.clip(shot, 0, 255).astype(np.uint8), (0, 0), rng.uniform(0.5, 1.0))
    shot = add_noise(shot, rng.uniform(2.0, 4.0), rng)
    # the app's paper: the brightest nearby, smoothed; divided out (a few per cent past it, so that the paper's
    # grain clips), the paper is white wherever the light was
    px_per_mm = dpi / MM_PER_INCH
    reach = max(3, int(round(APP_PAPER_MM * px_per_mm)) | 1)
    paper = cv2.GaussianBlur(cv2.dilate(shot, np.ones((reach, reach), np.uint8)), (0, 0), reach / 2)
    flat = shot.astype(np.float32) * (APP_WHITE_GAIN * 255.0 / np.maximum(paper.astype(np.float32), 1.0))
    black_point = rng.uniform(*APP_BLACK_POINT) * 255.0
    enhanced = (flat - black_point) * (255.0 / (255.0 - black_point))
    sharp = enhanced + rng.uniform(0.3, 0.8) * (enhanced - cv2.GaussianBlur(enhanced, (0, 0), 1.0))
    return Delivered(np.clip(sharp + 0.5, 0, 255).astype(np.uint8), dpi, quality=int(rng.integers(60, 91)))
