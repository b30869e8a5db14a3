"""Built-in prompt template sets, one per modality, for prompt ensembles.

A zero-shot classifier (and a probe's zero-shot prior) built from several prompts per class uses
the mean of their unit embeddings, renormalised (the CLIP paper's prompt ensembling: 80 templates
gained ImageNet accuracy over the single "a photo of a {}."). :func:`resolve_templates` turns what
a user gave - one template, several, and/or a set name - into the validated list.

- ``image``: the 80 templates CLIP's authors used for ImageNet (``OPENAI_IMAGENET_TEMPLATES`` in
  open_clip's ``zero_shot_metadata.py``), for images in the ``clip`` space;
- ``text``: short generic framings of a topic for texts and transcripts, written for omnivec (not
  tuned on any benchmark set; README, "Few-shot probes", has what they measured).
"""

from __future__ import annotations

from collections.abc import Sequence

from omnivec.indexer.errors import InvalidInputError

__all__ = [
    "IMAGE_TEMPLATES",
    "PROMPT_SETS",
    "TEXT_TEMPLATES",
    "request_templates",
    "resolve_templates",
]

IMAGE_TEMPLATES: tuple[str, ...] = (
    'a bad photo of a {}.',
    'a photo of many {}.',
    'a sculpture of a {}.',
    'a photo of the hard to see {}.',
    'a low resolution photo of the {}.',
    'a rendering of a {}.',
    'graffiti of a {}.',
    'a bad photo of the {}.',
    'a cropped photo of the {}.',
    'a tattoo of a {}.',
    'the embroidered {}.',
    'a photo of a hard to see {}.',
    'a bright photo of a {}.',
    'a photo of a clean {}.',
    'a photo of a dirty {}.',
    'a dark photo of the {}.',
    'a drawing of a {}.',
    'a photo of my {}.',
    'the plastic {}.',
    'a photo of the cool {}.',
    'a close-up photo of a {}.',
    'a black and white photo of the {}.',
    'a painting of the {}.',
    'a painting of a {}.',
    'a pixelated photo of the {}.',
    'a sculpture of the {}.',
    'a bright photo of the {}.',
    'a cropped photo of a {}.',
    'a plastic {}.',
    'a photo of the dirty {}.',
    'a jpeg corrupted photo of a {}.',
    'a blurry photo of the {}.',
    'a photo of the {}.',
    'a good photo of the {}.',
    'a rendering of the {}.',
    'a {} in a video game.',
    'a photo of one {}.',
    'a doodle of a {}.',
    'a close-up photo of the {}.',
    'a photo of a {}.',
    'the origami {}.',
    'the {} in a video game.',
    'a sketch of a {}.',
    'a doodle of the {}.',
    'a origami {}.',
    'a low resolution photo of a {}.',
    'the toy {}.',
    'a rendition of the {}.',
    'a photo of the clean {}.',
    'a photo of a large {}.',
    'a rendition of a {}.',
    'a photo of a nice {}.',
    'a photo of a weird {}.',
    'a blurry photo of a {}.',
    'a cartoon {}.',
    'art of a {}.',
    'a sketch of the {}.',
    'a embroidered {}.',
    'a pixelated photo of a {}.',
    'itap of the {}.',
    'a jpeg corrupted photo of the {}.',
    'a good photo of a {}.',
    'a plushie {}.',
    'a photo of the nice {}.',
    'a photo of the small {}.',
    'a photo of the weird {}.',
    'the cartoon {}.',
    'art of the {}.',
    'a drawing of the {}.',
    'a photo of the large {}.',
    'a black and white photo of a {}.',
    'the plushie {}.',
    'a dark photo of a {}.',
    'itap of a {}.',
    'graffiti of the {}.',
    'a toy {}.',
    'itap of my {}.',
    'a photo of a cool {}.',
    'a photo of a small {}.',
    'a tattoo of the {}.',
)

TEXT_TEMPLATES: tuple[str, ...] = (
    "{}",
    "a text about {}.",
    "this is about {}.",
    "a document about {}.",
    "a sentence about {}.",
    "the topic is {}.",
    "something related to {}.",
    "an article on {}.",
)

PROMPT_SETS: dict[str, tuple[str, ...]] = {"image": IMAGE_TEMPLATES, "text": TEXT_TEMPLATES}
# Templates per request: every one is embedded once per class.
MAX_TEMPLATES = 256


def resolve_templates(
    templates: str | Sequence[str] | None, prompt_set: str | None = None
) -> list[str]:
    """The templates to ensemble: ``templates`` (one or several, in order) then the named set's,
    without repeats; each must hold exactly one ``{}``. Empty when neither is given."""
    from omnivec.indexer.classify import format_prompt

    if isinstance(templates, str):
        given = [templates]
    elif templates is None:
        given = []
    elif isinstance(templates, Sequence):
        given = list(templates)
    else:
        raise InvalidInputError(
            f"prompt templates must be a string or a list of strings, got {type(templates).__name__}"
        )
    if prompt_set:
        if prompt_set not in PROMPT_SETS:
            raise InvalidInputError(
                f"unknown prompt set {prompt_set!r}; use one of: {', '.join(PROMPT_SETS)}"
            )
        given += PROMPT_SETS[prompt_set]
    out = list(dict.fromkeys(given))
    for template in out:
        if not isinstance(template, str):
            raise InvalidInputError(f"prompt templates must be strings, got {template!r}")
        format_prompt(template, "x")
    if len(out) > MAX_TEMPLATES:
        raise InvalidInputError(f"{len(out)} prompt templates; at most {MAX_TEMPLATES} are allowed")
    return out


def request_templates(first: str, more: Sequence[str], prompt_set: str) -> list[str]:
    """The templates of a request that carries them as the API does - a ``prompt_template``,
    more ``prompt_templates`` and a ``prompt_set`` name, empty strings meaning "none" - resolved
    by :func:`resolve_templates`."""
    return resolve_templates([t for t in (first, *more) if t], prompt_set or None)
