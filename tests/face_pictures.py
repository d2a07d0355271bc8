"""Pictures of two real people built from the sample corpus (samples/media): Grace Hopper and Eileen Collins (the
astronaut), each as the original portrait and pasted, scaled, mirrored or greyed, onto other sample photos; and their
faces as the search service receives them from analysis."""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import grpc
import httpx
from PIL import Image, ImageOps
from support import DEV_MEDIA, as_user, billing_user

from trove_common.context import ADMIN_METADATA
from trove_ml import TextEmbedder
from trove_ml.faces import FaceFinder, face_crop_jpeg
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc
from trove_protos.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from trove_protos.search.v1 import search_pb2, search_pb2_grpc


def _open(name: str) -> Image.Image:
    return Image.open(DEV_MEDIA / name).convert("RGB")


def _pasted(person: str, background: str, *, scale: float, mirror: bool, at: tuple[int, int]) -> Image.Image:
    picture = _open(background)
    face = _open(person)
    face = face.resize((int(face.width * scale), int(face.height * scale)))
    picture.paste(ImageOps.mirror(face) if mirror else face, at)
    return picture


def pictures() -> dict[str, Image.Image]:
    """name -> picture; names start with the person: hopper_* or collins_*."""
    return {
        "hopper_portrait": _open("grace_hopper.jpg"),
        "hopper_by_the_lake": _pasted("grace_hopper.jpg", "china.jpg", scale=0.6, mirror=True, at=(50, 20)),
        "hopper_grey": ImageOps.grayscale(_open("grace_hopper.jpg")).convert("RGB"),
        "hopper_at_the_cafe": _pasted("grace_hopper.jpg", "coffee.png", scale=0.45, mirror=False, at=(300, 60)),
        "collins_portrait": _open("astronaut.png"),
        "collins_by_the_lake": _pasted("astronaut.png", "china.jpg", scale=0.7, mirror=True, at=(200, 10)),
        "collins_at_the_cafe": _pasted("astronaut.png", "coffee.png", scale=0.6, mirror=False, at=(10, 10)),
    }


def slideshow_mp4(path: Path, slides: list[tuple[Image.Image, float]], *, fps: int = 10) -> bytes:
    """An H.264 video of still pictures (each shown for its seconds, scaled to 640x480): a cut between each."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.time_base = Fraction(1, fps)
        n = 0
        for picture, seconds in slides:
            frame = av.VideoFrame.from_image(picture.convert("RGB").resize((640, 480)))
            for _ in range(round(seconds * fps)):
                frame.pts = n
                n += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path.read_bytes()


def party_mp4(path: Path) -> bytes:
    """9 s: Hopper by the lake (0-3 s), a rocket launch with nobody (3-6 s), Collins at the cafe (6-9 s)."""
    pictures = sample_pictures()
    return slideshow_mp4(
        path,
        [(pictures["hopper_by_the_lake"], 3.0), (_open("rocket.jpg"), 3.0), (pictures["collins_at_the_cafe"], 3.0)],
    )


def jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@cache
def finder() -> FaceFinder:
    return FaceFinder()


def faces_in(picture: Image.Image, *, start_s: float = 0.0, end_s: float = 0.0) -> list[search_pb2.Face]:
    """The faces FaceFinder finds, with their boxes as fractions and a crop, as analysis sends them."""
    found = []
    for face in finder().find(picture):
        x0, y0, x1, y1 = face.box
        found.append(
            search_pb2.Face(
                box=[x0 / picture.width, y0 / picture.height, x1 / picture.width, y1 / picture.height],
                score=face.score,
                embedding=face.embedding.tolist(),
                start_s=start_s,
                end_s=end_s,
                crop=face_crop_jpeg(picture, face.box),
            )
        )
    return found


Connect = Callable[[str], grpc.aio.Channel]
Metadata = tuple[tuple[str, str], ...]
EMBEDDER = TextEmbedder()


class Library:
    """A new user whose media are real ingest records that analysis never touches (their budget is 0, so each
    upload waits, blocked), so only the segments and faces the test sends are indexed."""

    def __init__(self, grpc_channel: Connect) -> None:
        self._connect = grpc_channel
        self.ingest = ingest_pb2_grpc.IngestServiceStub(grpc_channel("ingest"))
        self.search = search_pb2_grpc.SearchServiceStub(grpc_channel("search"))
        self.user: Metadata = ()

    async def start(self, user_id: str = "") -> Library:
        """As a new user, or as `user_id` (a user the gateway made)."""
        user_id = user_id or await billing_user(self._connect("billing"))
        billing = billing_pb2_grpc.BillingServiceStub(self._connect("billing"))
        await billing.SetBudget(billing_pb2.SetBudgetRequest(user_id=user_id, amount=0), metadata=ADMIN_METADATA)
        self.user = as_user(user_id)
        return self

    async def media(self, filename: str) -> str:
        data = (DEV_MEDIA / "weather_report.wav").read_bytes()
        ticket = await self.ingest.CreateUpload(
            ingest_pb2.CreateUploadRequest(filename=filename, content_type="audio/wav", size_bytes=len(data)),
            metadata=self.user,
        )
        async with httpx.AsyncClient() as client:
            put = await client.put(ticket.upload_url, content=data, headers=dict(ticket.headers))
            assert put.status_code == 200
        media = await self.ingest.CompleteUpload(
            ingest_pb2.CompleteUploadRequest(upload_id=ticket.upload_id), metadata=self.user
        )
        assert media.status == "blocked_budget"
        return str(media.media_id)

    async def index(
        self,
        media_id: str,
        faces: list[search_pb2.Face],
        *,
        kind: str = "image",
        spans: tuple[tuple[float, float], ...] = ((0.0, 0.0),),
    ) -> None:
        texts = [f"a {kind} moment" for _ in spans]
        vectors = EMBEDDER.embed(texts)
        segments = [
            search_pb2.Segment(kind="scene" if kind == "video" else "image", start_s=s, end_s=e, text=t, vector=v)
            for (s, e), t, v in zip(spans, texts, vectors.tolist(), strict=True)
        ]
        request = search_pb2.IndexSegmentsRequest(
            media_id=media_id,
            model=EMBEDDER.model_name,
            dim=EMBEDDER.dim,
            segments=segments,
            facts=search_pb2.MediaFacts(kind=kind, duration_s=spans[-1][1]),
            faces=faces,
        )
        await self.search.IndexSegments(request, metadata=self.user)

    async def people(self, *, include_hidden: bool = False) -> list[search_pb2.Person]:
        request = search_pb2.ListPeopleRequest(include_hidden=include_hidden)
        return list((await self.search.ListPeople(request, metadata=self.user)).people)

    async def person(self, person_id: str) -> search_pb2.PersonDetail:
        return await self.search.GetPerson(search_pb2.GetPersonRequest(person_id=person_id), metadata=self.user)

    async def found(self, query: str, **filters: object) -> search_pb2.SearchResponse:
        request = search_pb2.SearchRequest(query=query, limit=20, **filters)  # type: ignore[arg-type]
        return await self.search.Search(request, metadata=self.user)


def video_faces() -> list[search_pb2.Face]:
    """A party video: Hopper in its first scene (0-4 s), Collins in its second (4-9 s)."""
    return faces_in(sample_pictures()["hopper_at_the_cafe"], start_s=0, end_s=4) + faces_in(
        sample_pictures()["collins_at_the_cafe"], start_s=4, end_s=9
    )


async def library_of_two(grpc_channel: Connect, *, user_id: str = "") -> tuple[Library, dict[str, str]]:
    """Three photos of Hopper, two of Collins and the party video; name -> media id."""
    library = await Library(grpc_channel).start(user_id)
    ids: dict[str, str] = {}
    for name in ("hopper_portrait", "collins_portrait", "hopper_by_the_lake", "collins_by_the_lake", "hopper_grey"):
        ids[name] = await library.media(f"{name}.jpg")
        await library.index(ids[name], sample_faces()[name])
    ids["party"] = await library.media("party.mp4")
    await library.index(ids["party"], video_faces(), kind="video", spans=((0.0, 4.0), (4.0, 9.0)))
    return library, ids


@cache
def sample_pictures() -> dict[str, Image.Image]:
    return pictures()


@cache
def sample_faces() -> dict[str, list[search_pb2.Face]]:
    return {name: faces_in(picture) for name, picture in sample_pictures().items()}
