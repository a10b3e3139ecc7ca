"""Draws a ``shapes`` scene into an RGB image (no anti-aliasing: colours stay exact)."""

from __future__ import annotations

from PIL import Image, ImageDraw

from mmf_imgtune.data.shapes.scene import SceneObject
from mmf_imgtune.data.shapes.vocab import BACKGROUND, COLOURS


def render_scene(scene: list[SceneObject], image_size: int) -> Image.Image:
    """Args: scene objects, image side in pixels. Returns: a (size, size) RGB ``PIL.Image``.

    Every object fills its box edge to edge (circle: inscribed; square: the box; triangle:
    apex at the top centre, base on the bottom edge), so the tight pixel box is ``obj.box``.
    """
    image = Image.new("RGB", (image_size, image_size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for obj in scene:
        x1, y1, x2, y2 = obj.box
        # PIL's coordinates are inclusive; our boxes exclude x2/y2.
        right, bottom = x2 - 1, y2 - 1
        fill = COLOURS[obj.colour]
        if obj.shape == "circle":
            draw.ellipse([x1, y1, right, bottom], fill=fill)
        elif obj.shape == "square":
            draw.rectangle([x1, y1, right, bottom], fill=fill)
        elif obj.shape == "triangle":
            draw.polygon([((x1 + right) / 2, y1), (x1, bottom), (right, bottom)], fill=fill)
        else:
            raise ValueError(f"cannot draw shape {obj.shape!r}; known: circle, square, triangle")
    return image
