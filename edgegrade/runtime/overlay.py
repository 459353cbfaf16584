"""Draw a result onto its frame: target contours (fragments, inclusions), the region's outline
(embryo, oocyte), the task's panel (grade, count, or nothing in view)."""

import cv2
import numpy as np

from edgegrade.preprocess import to_uint8_rgb


def display_factor(width: int, max_width: int) -> int:
    """The whole factor the overlay shrinks a frame by so that it is at most max_width wide
    (0: full size); whole, so the shrink is OpenCV's fast block average."""
    return max(1, -(-width // max_width)) if max_width else 1


def draw(image: np.ndarray, result, fps: float | None = None, max_width: int = 0) -> np.ndarray:
    """A BGR uint8 picture of the frame with the overlay, drawn at display size: the frame
    shrunk by a whole factor to at most max_width (0: full size). Drawing a 1080p frame at
    960 px costs a quarter of the pixels, and so does every sink that writes it (video)."""
    k = display_factor(image.shape[1], max_width)
    if k > 1:
        image = cv2.resize(image, (image.shape[1] // k, image.shape[0] // k), interpolation=cv2.INTER_AREA)
    canvas = to_uint8_rgb(image, "BGR") if (image.ndim == 2 or image.dtype != np.uint8 or image.shape[2] != 3) \
        else (image if k > 1 else image.copy())
    scale = max(0.5, canvas.shape[1] / 1280)
    thick = max(1, round(2 * scale))
    roi = getattr(result, "roi", None)
    if roi:  # the region the models graded
        x, y, w, h = (round(roi[c] / k) for c in ("x", "y", "w", "h"))
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (160, 160, 160), max(1, thick - 1), cv2.LINE_AA)
    shown = lambda contours: contours if k == 1 else [c // k for c in contours]  # noqa: E731
    cv2.polylines(canvas, shown(result.embryo_contours), True, (255, 200, 0), thick, cv2.LINE_AA)
    cv2.polylines(canvas, shown(result.fragment_contours), True, (40, 40, 255), thick, cv2.LINE_AA)
    head, lines, colour = result.headline  # the task's words: grade, inclusions, or no embryo in view
    lines = list(lines)
    if result.review:
        lines.append("REVIEW: grader and mask disagree")
    if fps is not None:
        lines.append(f"{fps:.1f} fps  {sum(result.timings.values()):.0f} ms")
    font = cv2.FONT_HERSHEY_SIMPLEX
    line_h = int(28 * scale)
    width = int(max([cv2.getTextSize(head, font, 0.9 * scale, thick)[0][0]] +
                    [cv2.getTextSize(s, font, 0.6 * scale, 1)[0][0] for s in lines]) + 20 * scale)
    height = int(line_h * (1.4 + len(lines)) + 10 * scale)
    panel = canvas[:height, :width]
    panel[:] = (panel * 0.35).astype(np.uint8)  # darken behind the text
    cv2.putText(canvas, head, (int(10 * scale), int(line_h * 1.1)), font, 0.9 * scale, colour, thick, cv2.LINE_AA)
    for i, text in enumerate(lines):
        col = (60, 60, 255) if text.startswith("REVIEW") else (235, 235, 235)
        cv2.putText(canvas, text, (int(10 * scale), int(line_h * (2.2 + i))), font, 0.6 * scale, col,
                    max(1, thick - 1), cv2.LINE_AA)
    return canvas
