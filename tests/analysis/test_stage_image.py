"""The image stage with the local vision provider: labels, thumbnail, segments, facts and view of a photo."""

from __future__ import annotations

import shutil
from pathlib import Path

from analysis.stage_kit import Tier, stage_run
from support import DEV_MEDIA

from trove_analysis import describe
from trove_analysis.deps import Providers
from trove_analysis.stages.image import IMAGE, ImageResult
from trove_analysis.stages.picture import Face, Label, Ocr, Pixels
from trove_common.blobstore import thumbnail_key


async def test_a_photo_is_seen_and_its_thumbnail_kept(providers: Providers, blob_root: Path) -> None:
    key = "user/coffee"
    shutil.copy(DEV_MEDIA / "coffee.png", blob_root / "user-coffee.png")
    tier = Tier()
    run = stage_run(kind="image", path=DEV_MEDIA / "coffee.png", providers=providers, tier=tier, key=key)
    result = await IMAGE.run(run)
    assert isinstance(result, ImageResult) and result.labels[0].name.startswith("espresso")
    assert (blob_root / thumbnail_key(key)).stat().st_size > 0 and tier.derived
    assert IMAGE.decode(IMAGE.encode(result)) == result
    (segment,) = IMAGE.segments(result)
    assert segment.kind == "image" and "espresso" in segment.text and "espresso" in segment.keywords
    assert IMAGE.view(result)["picture"]["labels"][0]["name"] == result.labels[0].name


def test_a_photo_contributes_its_description_its_text_and_its_faces() -> None:
    result = ImageResult(
        width=640,
        height=480,
        labels=(Label(name="tabby, tabby cat", score=0.9, broader=("cat", "feline", "animal")), Label("dog", 0.01)),
        pixels=Pixels(colours=("grey",), words=("grey", "photo")),
        ocr=Ocr(text="please do not feed the cat"),
        faces=(Face(box=(1, 2, 3, 4), score=0.9),),
    )
    picture, text = IMAGE.segments(result)
    assert picture.text == "a photo of tabby; tabby cat, cat, feline, animal; a person's face; grey, photo"
    assert picture.keywords == "tabby tabby cat cat feline animal"
    assert picture.caption == "A tabby cat; a person; text: “please do not feed the cat”"
    assert (text.kind, text.text) == ("text", "please do not feed the cat")
    assert IMAGE.facts(result) == {"has_faces": True}
    view = IMAGE.view(result)["picture"]
    assert view["faces"] == {"count": 1, "boxes": [[1, 2, 3, 4]]} and view["text"] == "please do not feed the cat"
    assert view["caption"] == picture.caption
    assert view["colours"] == ["grey"] and view["labels"][1] == {"name": "dog", "score": 0.01, "broader": []}


def test_a_caption_reads_as_a_line_not_a_label_list() -> None:
    def caption(**kwargs: object) -> str:
        return describe.caption(ImageResult(**kwargs))  # type: ignore[arg-type]

    assert caption() == "A picture"
    assert caption(labels=(Label("Egyptian cat", 0.6), Label("tabby, tabby cat", 0.3))) == "An Egyptian cat"
    assert caption(labels=(Label("espresso", 0.9),), faces=(Face(box=(0, 0, 1, 1)),) * 3) == "An espresso; 3 people"
    bw = Pixels(black_and_white=True, style="photo")
    assert caption(labels=(Label("military uniform", 0.5),), pixels=bw) == "A military uniform in black and white"
    # A page of text is "A document" unless a label is sure of itself; its words are quoted, shortened.
    page = Pixels(style="document")
    long = "Daily soups: tomato, lentil and minestrone; sandwiches on rye or sourdough until three"
    text = caption(labels=(Label("menu", 0.1),), pixels=page, ocr=Ocr(text=long))
    assert text == "A document; text: “Daily soups: tomato, lentil and minestrone; sandwiches on…”"
    assert (
        caption(labels=(Label("street sign", 0.4),), ocr=Ocr(text="EXIT")) == "A street sign"
    )  # too few words to quote


async def test_a_face_in_a_photo_goes_to_people_with_its_crop(providers: Providers, blob_root: Path) -> None:
    shutil.copy(DEV_MEDIA / "grace_hopper.jpg", blob_root / "user-grace.jpg")
    run = stage_run(kind="image", path=DEV_MEDIA / "grace_hopper.jpg", providers=providers, key="user/grace")
    result = await IMAGE.run(run)
    assert IMAGE.decode(IMAGE.encode(result)) == result
    (face,) = IMAGE.faces(result)
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 < 0.6  # fractions; the face is in the upper part
    assert len(face.embedding) == 128 and face.score > 0.5 and (face.start_s, face.end_s) == (0, 0)
    assert face.crop[:3] == b"\xff\xd8\xff"
